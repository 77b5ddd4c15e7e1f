"""The pytrnn command line (Typer). Argument parsing and printing only."""
