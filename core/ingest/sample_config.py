"""Config of the ``populate-sample`` job (nothing to choose)."""

from pydantic import BaseModel, ConfigDict


class PopulateSampleConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
