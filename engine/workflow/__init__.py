"""The BPMN runtime, and nothing municipal: loading and checking BPMN, cases, tasks and the
task index, timers and timer starts, messages, service-task handlers, the audit chain and
the job worker. It imports only core, forms (JSON Schema of task forms) and libraries; the
domain packages beside it plug in through registries (service_tasks, directory, jobs).
"""
