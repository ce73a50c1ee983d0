"""The IVR's pure core: flow model and validation, the session interpreter, Chinese speech,
the survey and the missed-call callback planner. No I/O, no asyncio, no clock reads."""
