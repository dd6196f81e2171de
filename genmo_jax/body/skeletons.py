"""Skeleton tables: SMPL 24 / SMPL-X 22 body joints, COCO-17 keypoints (SPEC B 17). One place only.

Joint order (SMPL and the first 22 of SMPL-X): 0 pelvis, 1 L_hip, 2 R_hip, 3 spine1, 4 L_knee,
5 R_knee, 6 spine2, 7 L_ankle, 8 R_ankle, 9 spine3, 10 L_foot, 11 R_foot, 12 neck, 13 L_collar,
14 R_collar, 15 head, 16 L_shoulder, 17 R_shoulder, 18 L_elbow, 19 R_elbow, 20 L_wrist,
21 R_wrist; SMPL adds 22 L_hand, 23 R_hand. "Left" is the subject's left.

Flip permutations map a joint index to its mirror: mirrored[..., j, :] = x[..., FLIP_PERM[j], :].
"""

SMPL_JOINT_NAMES = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

# Parent of each joint in the kinematic tree (root = -1); parents[j] < j always holds.
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

SMPL_FLIP_PERM = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)

# SMPL-X body: the first 22 joints of the SMPL-X tree (same names and parents as SMPL 0..21).
SMPLX_BODY_JOINT_NAMES = SMPL_JOINT_NAMES[:22]
SMPLX_BODY_PARENTS = SMPL_PARENTS[:22]
SMPLX_BODY_FLIP_PERM = SMPL_FLIP_PERM[:22]

NUM_SMPL_JOINTS = 24
NUM_BODY_JOINTS = 22  # root + the 21 joints of the 151-d body_pose slice

COCO17_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

COCO17_FLIP_PERM = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)

# COCO tree used for visibility propagation (SPEC B 17): a tuple of parent indices per keypoint;
# roots (shoulders, hips) have none, the nose has two (both shoulders).
COCO17_PARENTS = (
    (5, 6),
    (0,),
    (0,),
    (1,),
    (2,),
    (),
    (),
    (5,),
    (6,),
    (7,),
    (8,),
    (),
    (),
    (11,),
    (12,),
    (13,),
    (14,),
)

# Joints whose contact (static) logits the model predicts: L_ankle, L_foot, R_ankle, R_foot,
# L_wrist, R_wrist (SMPL indices).
CONTACT_JOINTS = (7, 10, 8, 11, 20, 21)
