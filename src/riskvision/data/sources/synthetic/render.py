"""The renderer: a :class:`~.scene.Scene` at one simulation step -> an RGB frame, and the "camera" JPEG
stage every frame of both sources passes (``camera_jpeg`` / ``decode_jpeg``).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from riskvision.data.sources.synthetic.scene import LANE, ROADSIDE_PERIOD, Scene, Vehicle

CAM_HEIGHT = 1.4  # m
FOCAL = 0.8  # focal length in units of frame width
HORIZON = 0.40  # horizon row in units of frame height


def project(scene: Scene, i: int) -> tuple[float, float, float]:
    """Camera of step ``i``: focal length, principal column, horizon row (pixels)."""
    w, h = scene.width, scene.height
    return FOCAL * w, w / 2 + scene.yaw[i] * w, HORIZON * h + scene.pitch[i] * h


def render_frame(scene: Scene, i: int) -> np.ndarray:
    """Render simulation step ``i`` as uint8 RGB ``[H, W, 3]``.

    Drawing happens on ``[H, W, 4]`` float images whose last channel flags lamps (1), which night
    does not darken; objects are painted far to near.
    """
    f, cx, horizon = project(scene, i)
    img = _sky(scene, cx, horizon)
    _ground(scene, img, i, f, cx, horizon)
    for z, draw in sorted(_drawables(scene, i, f, cx, horizon), key=lambda item: -item[0]):
        draw(img)
    rgb = _night(img, horizon) if scene.style.night else img[..., :3]
    return _camera(scene, rgb, i)


def _sky(scene: Scene, cx: float, horizon: float) -> np.ndarray:
    h, w, st = scene.height, scene.width, scene.style
    rows = np.clip((np.arange(h) + 0.5) / max(horizon, 1), 0, 1)[:, None]
    img = np.zeros((h, w, 4), np.float32)
    img[..., :3] = (st.sky_top * (1 - rows) + st.sky_horizon * rows)[:, None, :]
    shift = int(round(cx - w / 2)) % w
    height = st.skyline[shift : shift + w] * h
    rows_2d = np.arange(h)[:, None] + 0.5
    mask = (rows_2d > horizon - height[None, :]) & (rows_2d <= horizon + 1)
    img[mask, :3] = st.skyline_colour
    return img


def _ground(scene: Scene, img: np.ndarray, i: int, f: float, cx: float, horizon: float) -> None:
    """Road, verge and lane markings below the horizon, with distance haze."""
    st, h, w = scene.style, scene.height, scene.width
    first = max(int(np.floor(horizon)) + 1, 0)
    if first >= h:
        return
    v = np.arange(first, h, dtype=np.float32) + 0.5
    z = np.minimum(f * CAM_HEIGHT / np.maximum(v - horizon, 1e-3), 300.0)[:, None]  # [R, 1] m
    x = (np.arange(w, dtype=np.float32)[None, :] + 0.5 - cx) * z / f - scene.curve[i] * z * z  # [R, W] m
    road = np.abs(x) < 1.5 * LANE + 0.6
    shade = 1 + 0.05 * np.sin(2 * np.pi * (z + scene.s[i]) / 7.0)  # [R, 1]
    colour = np.where(road[..., None], (st.road * shade[..., None]).astype(np.float32), st.ground.astype(np.float32))
    lane = np.clip(np.round(x / LANE - 0.5), -2, 1)  # nearest line at (lane + 0.5) * LANE
    near_line = np.abs(x - (lane + 0.5) * LANE) < np.maximum(0.08, 0.6 * z / f)
    outer = np.abs(lane + 0.5) > 1
    painted = near_line & (outer | (((z + scene.s[i]) % 9.0) < 3.2))
    colour[painted & (lane != -1)] = st.marking
    colour[painted & (lane == -1)] = st.centre_marking
    haze = np.exp(-z / 90.0)[..., None]
    img[first:, :, :3] = colour * haze + st.sky_horizon * (1 - haze)


def _drawables(scene: Scene, i: int, f: float, cx: float, horizon: float) -> list[tuple[float, Callable]]:
    """(distance, draw function) for every roadside object and vehicle in view."""
    out = []
    for x, z0, width, height, colour in scene.style.roadside:
        z = (z0 - scene.s[i]) % ROADSIDE_PERIOD
        if z > 1.0:
            box = face_box(scene, i, f, cx, horizon, x, z, width, height)
            out.append((z, _rect_drawer(box, _haze(colour, z, scene.style.sky_horizon))))
    for car in scene.vehicles:
        z = car.d[i]
        if 1.0 < z < 150:
            box = face_box(scene, i, f, cx, horizon, car.x[i], z, car.width, car.height)
            if box[2] > 0 and box[0] < scene.width:
                out.append((z, _vehicle_drawer(scene, car, i, box, z)))
    return out


def face_box(
    scene: Scene, i: int, f: float, cx: float, horizon: float, x: float, z: float, width: float, height: float
) -> tuple[float, float, float, float]:
    """Screen box (x0, y0, x1, y1) in pixels of an upright face standing on the road at distance z."""
    f, cx, horizon, x, z = float(f), float(cx), float(horizon), float(x), float(z)
    centre = cx + f * (x + float(scene.curve[i]) * z * z) / z
    bottom = horizon + f * CAM_HEIGHT / z
    half = f * width / z / 2
    return centre - half, bottom - f * height / z, centre + half, bottom


def _haze(colour: np.ndarray, z: float, horizon_colour: np.ndarray) -> np.ndarray:
    a = np.exp(-z / 90.0)
    return colour * a + horizon_colour * (1 - a)


def _rect_drawer(box: tuple[float, float, float, float], colour: np.ndarray) -> Callable:
    def draw(img: np.ndarray) -> None:
        _fill(img, *box, colour)

    return draw


def _vehicle_drawer(scene: Scene, car: Vehicle, i: int, box: tuple[float, float, float, float], z: float) -> Callable:
    """Draw a car's rear (or front) as shaded boxes with two lamps (tail/brake or head lights)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body = _haze(car.colour, z, scene.style.sky_horizon)
    glass = _haze(np.array([35, 40, 50.0]), z, scene.style.sky_horizon)
    dark = _haze(np.array([20, 20, 22.0]), z, scene.style.sky_horizon)
    if car.oncoming:
        lamp = np.array([255, 250, 215.0]) if scene.style.night else np.array([235, 235, 220.0])
    else:
        lamp = np.array([255, 40, 30.0]) if car.brake[i] else np.array([130, 25, 25.0])
    ly0, ly1 = y0 + 0.5 * h, y0 + 0.62 * h

    def draw(img: np.ndarray) -> None:
        _fill(img, x0 - 0.05 * w, y1 - 0.06 * h, x1 + 0.05 * w, y1 + 0.05 * h, dark * 0.6)  # shadow
        _fill(img, x0, y0 + 0.42 * h, x1, y1 - 0.02 * h, body)  # lower body
        _fill(img, x0 + 0.1 * w, y0, x1 - 0.1 * w, y0 + 0.45 * h, body * 0.9)  # cabin
        _fill(img, x0 + 0.16 * w, y0 + 0.07 * h, x1 - 0.16 * w, y0 + 0.4 * h, glass)  # window
        _fill(img, x0, y1 - 0.2 * h, x1, y1 - 0.04 * h, dark)  # bumper
        _fill(img, x0 + 0.4 * w, y0 + 0.66 * h, x1 - 0.4 * w, y0 + 0.76 * h, body * 0.5 + 110)  # plate
        _fill(img, x0 + 0.05 * w, ly0, x0 + 0.2 * w, ly1, lamp, lamp=True)
        _fill(img, x1 - 0.2 * w, ly0, x1 - 0.05 * w, ly1, lamp, lamp=True)

    return draw


def _fill(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour: np.ndarray, lamp: bool = False) -> None:
    """Paint ``colour`` (and the lamp flag) into the pixel rectangle [x0, x1) x [y0, y1) of ``[H, W, 4]``."""
    h, w = img.shape[:2]
    c0, c1 = min(max(int(x0 + 0.5), 0), w), min(max(int(x1 + 0.5), 0), w)
    r0, r1 = min(max(int(y0 + 0.5), 0), h), min(max(int(y1 + 0.5), 0), h)
    if c1 > c0 and r1 > r0:
        img[r0:r1, c0:c1, :3] = colour
        img[r0:r1, c0:c1, 3] = lamp


def _night(img: np.ndarray, horizon: float) -> np.ndarray:
    """``[H, W, 4]`` -> RGB ``[H, W, 3]``: darken all but lamps; the ego headlights light the road ahead."""
    h = img.shape[0]
    rows = np.clip((np.arange(h) + 0.5 - horizon) / max(h - horizon, 1), 0, 1)[:, None, None]
    return img[..., :3] * np.maximum(0.12 + 0.5 * rows**1.5, img[..., 3:])


def _camera(scene: Scene, img: np.ndarray, i: int) -> np.ndarray:
    """Exposure, slight optical blur and sensor noise; uint8 ``[H, W, 3]``."""
    img = img * scene.style.gain
    img[1:-1] = (img[:-2] + 2 * img[1:-1] + img[2:]) / 4
    img[:, 1:-1] = (img[:, :-2] + 2 * img[:, 1:-1] + img[:, 2:]) / 4
    noise = scene.noise[i % len(scene.noise)]
    img = img + (3.0 + 0.02 * img) * np.roll(noise, (i * 7) % scene.height, axis=0)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# ============================================================================ the camera


def camera_jpeg(frame: np.ndarray, quality: int, subsampling: int = 2) -> bytes:
    """uint8 ``[H, W, 3]`` -> JPEG bytes (PIL ``subsampling``: 2 = 4:2:0 as cameras, 0 = 4:4:4)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> uint8 RGB ``[H, W, 3]``."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
