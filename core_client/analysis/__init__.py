"""Analysis over any provider's data: log patterns, volume histograms, metric baselines and anomalies."""
