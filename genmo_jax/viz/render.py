"""Motion previews without a GPU: a skeleton video (MP4 or GIF) drawn with matplotlib.

Left panel: the world view (y-up, ground plane at the lowest foot, a trail of the root);
right panel (when 2D input was given): the camera view with the input keypoints and the
predicted skeleton projected with the camera. The caption active at each frame is drawn on top.
MP4 goes through the ffmpeg binary that the `imageio-ffmpeg` wheel ships.
"""

from __future__ import annotations

import os

import numpy as np

from genmo_jax.body.skeletons import COCO17_PARENTS, SMPL_PARENTS

_LEFT_JOINTS = {1, 4, 7, 10, 13, 16, 18, 20, 22}


def _coco_edges():
    """The COCO visibility tree plus the torso edges it lacks (shoulders, hips)."""
    edges = [(5, 6), (11, 12), (5, 11), (6, 12)]
    for child, parent in enumerate(COCO17_PARENTS):
        for p in (parent if isinstance(parent, tuple) else (parent,)):
            if p is not None and p >= 0:
                edges.append((p, child))
    return edges


def caption_per_frame(num_frames, texts):
    """texts: list of (caption, start_frame, end_frame) -> list[str] of length num_frames."""
    out = [""] * num_frames
    for caption, start, end in texts:
        for f in range(max(0, int(start)), min(num_frames, int(end))):
            out[f] = caption if not out[f] else f"{out[f]} | {caption}"
    return out


def render_motion(path, joints_w, *, fps=30.0, texts=(), kp2d=None, joints_c=None, K=None,
                  image_size=(1000, 1000), title="", max_frames=None, stride=1, dpi=80):
    """Renders a skeleton animation to `path` (.mp4 or .gif) and returns the path.

    Args:
      joints_w: (F, 24, 3) metres, world frame, y-up.
      fps: frame rate of the motion; the video plays in real time (stride frames are skipped).
      texts: [(caption, start_frame, end_frame)] shown while active.
      kp2d: optional (F, 17, 3) input COCO keypoints (x, y, confidence) in pixels.
      joints_c: optional (F, 24, 3) camera-frame joints drawn projected with `K` (3, 3).
      image_size: (width, height) of the camera image in pixels.
      max_frames / stride: limit the rendered frames (previews of long motions).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.animation as animation
    import matplotlib.pyplot as plt

    joints_w = np.asarray(joints_w, np.float64)
    if joints_w.ndim != 3 or joints_w.shape[-1] != 3:
        raise ValueError(f"render_motion: joints_w must be (F, J, 3), got {joints_w.shape}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".mp4", ".gif"):
        raise ValueError(f"render_motion: output must end in .mp4 or .gif, got {path}")
    frames = np.arange(0, joints_w.shape[0], stride)
    if max_frames is not None:
        frames = frames[:max_frames]
    captions = caption_per_frame(joints_w.shape[0], texts)
    with_camera = kp2d is not None or joints_c is not None

    fig = plt.figure(figsize=(8 if with_camera else 4.5, 4.5), dpi=dpi)
    ax = fig.add_subplot(1, 2 if with_camera else 1, 1, projection="3d")
    ground = joints_w[..., 1].min()
    half = 1.5  # the world view follows the root in a 3 m x 3 m window: the body stays readable
    height = max(2.2, float(joints_w[..., 1].max() - ground) + 0.2)
    parents = SMPL_PARENTS[: joints_w.shape[1]]
    clip = {"axlim_clip": True} if "axlim_clip" in ax.plot.__doc__ else {}
    bones = [ax.plot([], [], [], lw=2, color=("tab:red" if j in _LEFT_JOINTS else "tab:blue"), **clip)[0]
             for j in range(1, len(parents))]
    trail, = ax.plot([], [], [], lw=1, color="gray", **clip)
    lo = np.floor(joints_w[:, 0, [0, 2]].min(0) - half)
    hi = np.ceil(joints_w[:, 0, [0, 2]].max(0) + half)
    # Plot with matplotlib's z axis = world y (up), x = world x, y = world z.
    # Many vertices per grid line, so that clipping to the moving window keeps the visible part.
    along_x, along_z = np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200)
    for x in np.arange(lo[0], hi[0] + 0.01, 0.5):
        ax.plot(np.full_like(along_z, x), along_z, np.full_like(along_z, ground), color="0.55", lw=0.6, **clip)
    for z in np.arange(lo[1], hi[1] + 0.01, 0.5):
        ax.plot(along_x, np.full_like(along_x, z), np.full_like(along_x, ground), color="0.55", lw=0.6, **clip)
    ax.set_zlim(ground - 0.02, ground + height)
    ax.set_box_aspect((2 * half, 2 * half, height))
    ax.set_xlabel("x (m)")
    ax.set_ylabel("z (m)")
    ax.set_zlabel("y up (m)")
    ax.view_init(elev=15, azim=-60)
    text = fig.suptitle(title, fontsize=9)

    cam_artists = []
    if with_camera:
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.set_xlim(0, image_size[0])
        ax2.set_ylim(image_size[1], 0)
        ax2.set_aspect("equal")
        ax2.set_title("camera view", fontsize=8)
        kp_lines = [ax2.plot([], [], color="tab:green", lw=1.5)[0] for _ in _coco_edges()]
        pred_lines = [ax2.plot([], [], color="tab:orange", lw=1.5)[0] for _ in range(1, len(parents))]
        cam_artists = (ax2, kp_lines, pred_lines)
        if joints_c is not None:
            if K is None:
                raise ValueError("render_motion: joints_c needs the intrinsics K")
            jc = np.asarray(joints_c, np.float64)
            uv = jc[..., :2] / np.maximum(jc[..., 2:3], 1e-3) * np.asarray(K)[[0, 1], [0, 1]] \
                + np.asarray(K)[[0, 1], 2]
        else:
            uv = None

    def draw(i):
        f = frames[i]
        p = joints_w[f]
        ax.set_xlim(p[0, 0] - half, p[0, 0] + half)
        ax.set_ylim(p[0, 2] - half, p[0, 2] + half)
        for b, j in zip(bones, range(1, len(parents))):
            q = p[[parents[j], j]]
            b.set_data(q[:, 0], q[:, 2])
            b.set_3d_properties(q[:, 1])
        tr = joints_w[: f + 1, 0]
        trail.set_data(tr[:, 0], tr[:, 2])
        trail.set_3d_properties(np.full(len(tr), ground))
        label = f"{title}  frame {f}/{joints_w.shape[0]}" if title else f"frame {f}/{joints_w.shape[0]}"
        text.set_text(label + (f"\n{captions[f]}" if captions[f] else ""))
        if cam_artists:
            _, kp_lines, pred_lines = cam_artists
            if kp2d is not None:
                kp = np.asarray(kp2d[f])
                for line, (a, b) in zip(kp_lines, _coco_edges()):
                    ok = kp[a, 2] > 0.5 and kp[b, 2] > 0.5
                    line.set_data(kp[[a, b], 0] if ok else [], kp[[a, b], 1] if ok else [])
            if uv is not None:
                for line, j in zip(pred_lines, range(1, len(parents))):
                    q = uv[f, [parents[j], j]]
                    line.set_data(q[:, 0], q[:, 1])
        return bones

    anim = animation.FuncAnimation(fig, draw, frames=len(frames), interval=1000.0 * stride / fps, blit=False)
    out_fps = max(1.0, fps / stride)
    if ext == ".mp4":
        import imageio_ffmpeg

        matplotlib.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()
        writer = animation.FFMpegWriter(fps=out_fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
    else:
        writer = animation.PillowWriter(fps=out_fps)
    anim.save(path, writer=writer)
    plt.close(fig)
    return path


def save_frame_png(path, joints_w, frame, **kwargs):
    """Renders one frame of `render_motion`'s world view to a PNG (for READMEs and checks)."""
    import imageio.v3 as iio

    tmp = os.path.splitext(path)[0] + ".tmp.gif"
    render_motion(tmp, np.asarray(joints_w)[frame:frame + 1], **kwargs)
    iio.imwrite(path, iio.imread(tmp, index=0))
    os.remove(tmp)
    return path
