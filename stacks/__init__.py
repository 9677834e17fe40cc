"""Example stacks composing constructs_sm, with their processing scripts and image."""
