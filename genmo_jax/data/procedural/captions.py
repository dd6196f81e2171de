"""Caption templates of the procedural motion world, and the inverse map caption -> label.

Every segment has a label (one of `LABELS`) and a caption made from one of its templates:
"a person <phrase>" for the first segment of a clip, "then <phrase>" for the next ones.
`label_of_caption` recovers the label from any caption the generator can write, so evaluation
can check generated motions against the caption without a separate label field.
"""

from __future__ import annotations

import re

import numpy as np

SPEEDS = {"slow": " slowly", "normal": "", "fast": " quickly"}

# label -> verb phrases; "{speed}" takes one of SPEEDS' values.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "stand": ("stands still", "stands in place", "stands and waits"),
    "walk": ("walks forward{speed}", "walks straight ahead{speed}"),
    "walk_curve_left": ("walks forward while curving to the left", "walks in a curve to the left"),
    "walk_curve_right": ("walks forward while curving to the right",
                         "walks in a curve to the right"),
    "jog": ("jogs forward", "jogs straight ahead"),
    "jog_curve_left": ("jogs in a curve to the left",),
    "jog_curve_right": ("jogs in a curve to the right",),
    "run": ("runs forward", "runs straight ahead"),
    "walk_backward": ("walks backward", "steps backward"),
    "sidestep_left": ("steps sideways to the left", "side-steps to the left"),
    "sidestep_right": ("steps sideways to the right", "side-steps to the right"),
    "turn_left": ("turns left", "turns to the left"),
    "turn_right": ("turns right", "turns to the right"),
    "turn_around_left": ("turns around to the left",),
    "turn_around_right": ("turns around to the right",),
    "jump": ("jumps up in place", "jumps on the spot"),
    "jump_forward": ("jumps forward", "does a jump forward"),
    "squat": ("squats down and stands back up", "does a squat"),
    "wave_left": ("waves the left hand", "waves with the left hand"),
    "wave_right": ("waves the right hand", "waves with the right hand"),
    "kick_left": ("kicks with the left leg", "kicks forward with the left foot"),
    "kick_right": ("kicks with the right leg", "kicks forward with the right foot"),
    "raise_arms": ("raises both arms above the head", "lifts both arms up"),
    "sit_down": ("sits down", "sits down on a chair"),
    "stand_up": ("stands up", "gets up from the chair"),
    "dance": ("dances, stepping side to side to the beat",
              "dances, bouncing to the beat and pumping the arms",
              "dances, stepping in place to the beat",
              "dances, twisting to the beat"),
}
LABELS = tuple(TEMPLATES)
FIRST_PREFIX = "a person "
NEXT_PREFIX = "then "


def make_caption(label: str, rng: np.random.Generator, first: bool, speed: str = "normal",
                 variant: int | None = None) -> str:
    """A caption for `label`; `variant` picks a template (default: random)."""
    if label not in TEMPLATES:
        raise ValueError(f"unknown motion label {label!r}; expected one of {LABELS}")
    templates = TEMPLATES[label]
    index = int(rng.integers(len(templates))) if variant is None else variant % len(templates)
    phrase = templates[index].format(speed=SPEEDS[speed])
    return (FIRST_PREFIX if first else NEXT_PREFIX) + phrase


def _phrase_regex(template: str) -> str:
    speeds = "|".join(re.escape(s) for s in SPEEDS.values())
    return re.escape(template).replace(re.escape("{speed}"), f"(?:{speeds})")


_PATTERNS = [(label, re.compile(rf"^(?:{re.escape(FIRST_PREFIX)}|{re.escape(NEXT_PREFIX)})"
                                rf"{_phrase_regex(t)}$"))
             for label, templates in TEMPLATES.items() for t in templates]


def label_of_caption(caption: str) -> str:
    """The label of a caption written by `make_caption`; ValueError for any other text."""
    for label, pattern in _PATTERNS:
        if pattern.match(caption.strip()):
            return label
    raise ValueError(f"caption {caption!r} was not written by the procedural generator")


def as_first(caption: str) -> str:
    """"then <phrase>" -> "a person <phrase>" (for a crop whose first window is a later
    segment); other captions unchanged."""
    if caption.startswith(NEXT_PREFIX):
        return FIRST_PREFIX + caption[len(NEXT_PREFIX):]
    return caption
