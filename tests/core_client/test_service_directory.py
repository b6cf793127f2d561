"""One identity per service, whatever a record calls it: id, name or alias."""

from __future__ import annotations

from core_client.schemas import Service
from core_client.service_directory import ServiceDirectory


def directory() -> ServiceDirectory:
    return ServiceDirectory(
        [
            Service(
                id="svc-checkout", name="Checkout API", aliases=["cart"], dependencies=["Payments", "ledger"]
            ),
            Service(id="svc-payments", name="Payments", dependencies=["svc-ledger"]),
            Service(id="svc-ledger", name="Ledger"),
            # A name that is another service's id: the id wins, so one string never means two services.
            Service(id="svc-odd", name="svc-ledger"),
        ]
    )


def test_every_reference_finds_the_same_service() -> None:
    services = directory()
    for reference in ("svc-checkout", "Checkout API", "checkout  api", "CART"):
        assert services.key(reference) == "svc-checkout"
        assert services.label(reference) == "Checkout API"
    assert services.same("cart", "svc-checkout") and not services.same("cart", "Payments")
    assert services.key("svc-ledger") == "svc-ledger"  # the id, not svc-odd's name


def test_an_unknown_reference_stays_itself() -> None:
    services = directory()
    assert services.find("svc-database") is None
    assert (services.key("svc-database"), services.label("svc-database")) == ("svc-database", "svc-database")
    assert not services.same("svc-database", None)


def test_dependencies_and_dependents_resolve_references_given_either_way() -> None:
    services = directory()
    assert services.dependencies("Checkout API") == ["svc-payments", "svc-ledger"]
    assert services.dependents("Ledger") == ["svc-checkout", "svc-payments"]
    assert services.count(["Payments", "svc-payments", None, "svc-database"]) == {
        "svc-payments": 2,
        "svc-database": 1,
    }
