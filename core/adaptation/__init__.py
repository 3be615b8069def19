"""Continual adaptation: releases of the deployed model, what changed since, the gate."""
