"""Animators: the models under test, behind one interface (`base.Animator`)."""
