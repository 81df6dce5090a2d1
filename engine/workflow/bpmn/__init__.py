"""Loading BPMN files: safe XML, Camunda compatibility rewrites, validation, parsing."""
