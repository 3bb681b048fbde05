"""Release gate: a policy of rules over per-clip metric values, evaluated on a candidate run against a
baseline run. Reads records only (never recomputes a metric); see `policy`, `evaluate`, `io`."""
