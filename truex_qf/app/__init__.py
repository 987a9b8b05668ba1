"""The program: settings, runner, pipeline, command line and demo (the top floor)."""
