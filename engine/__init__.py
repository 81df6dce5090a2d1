"""Cases, tasks and their runtime on SpiffWorkflow: deployment, commands, timers, audit."""
