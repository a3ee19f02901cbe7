"""Learning from runs: what failed before and how it was fixed, and why a run failed.

- `signatures`: a failed step's error (redacted already) normalised into a signature, the
  same for the same error with other ids, hosts, numbers, paths, times and quoted values;
- `causes`: the root-cause class of a run that ended failed, inconclusive or escalate (guide
  defect, environment, engine, operator, the incident itself), with its evidence;
- `record`: both worked out when a run ends and kept in the store (`Store.record_lessons`),
  and read back for `show`, the report, the API and `lint`.

`signatures` and `causes` are pure; `record` is the only module here that reads a store.
"""
