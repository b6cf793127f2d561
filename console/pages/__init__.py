"""Every console page; importing this package registers them (one module per page, each using ``console_page``)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
