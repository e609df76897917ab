"""The bundle decision: per pregnancy and phase, integral claim or fallback to separate claims, with reasons."""
