"""laneway: a fleet control plane for self-hosted LLM inference.

Platform teams publish capacity; ML teams declare requirements; laneway composes everything
between. See docs/ for concepts and DESIGN in the repository for the map.
"""

__version__ = "0.1.0"
