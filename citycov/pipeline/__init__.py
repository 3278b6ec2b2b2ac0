"""The pipeline: ``run(scenario) -> Results``.  It calls each step and collects its result."""
