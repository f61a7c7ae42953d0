"""The simulated AWS services. Each backend takes request dictionaries and knows nothing of HTTP."""
