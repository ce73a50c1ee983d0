"""Flow texts shared by the integration tests."""

import datetime as dt

NOW = dt.datetime(2026, 11, 26, 10, 0)

GOOD = """\
[flow]
name = "t"
start = "greeting"

[nodes.greeting]
type = "play"
prompt = "welcome"
next = "menu"

[nodes.menu]
type = "menu"
prompt = "menu_main"
choices = { 1 = "q_general", 2 = "q_business" }
on_failure = "q_general"

[nodes.q_general]
type = "queue"
queue = "general"

[nodes.q_business]
type = "queue"
queue = "business"
"""

GOOD_V2 = GOOD.replace(
    'choices = { 1 = "q_general", 2 = "q_business" }', 'choices = { 1 = "q_business", 2 = "q_general" }'
)
