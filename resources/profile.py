"""The scale profile ($LLAMA_PROFILE, default tiny): every size and hyper-parameter of the run."""
from __future__ import annotations

import dagster as dg

from llama_model.configs import DEFAULT_PROFILE, Profile, get_profile


class ProfileResource(dg.ConfigurableResource):
    name: str = DEFAULT_PROFILE

    def get(self) -> Profile:
        return get_profile(self.name)
