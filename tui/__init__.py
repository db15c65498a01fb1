"""The Textual TUI: watch a cluster live, break it with a key, replay a recorded run."""
