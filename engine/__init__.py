"""The engine: organisation, cases, tasks and the processes that drive them."""
