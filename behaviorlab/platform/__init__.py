"""The experiment platform: spec, registry, runner, callbacks, report and the CLI."""
