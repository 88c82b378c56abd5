"""Developer tools around tricloud (catalog refresh and checks); nothing here imports pulumi."""
