"""The FastAPI app: one HTML page, its script, and a JSON API over :class:`engine.Engine`.

``POST /api/search`` takes a multipart form with any of ``text`` (keywords), ``image`` (a PNG
or JPEG photo) and ``audio`` (a WAV or FLAC clip, mono, 16 kHz, 0.2 to 10 s), plus ``k``,
``group`` and ``max_price``. Bad input is a 4xx with a JSON ``detail`` that says what to change.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from apps.product_search.engine import DEFAULT_DIR, Engine, QueryError, check_clip, png_bytes

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 200


def _read_upload(upload: UploadFile | None, name: str) -> bytes | None:
    if upload is None or not upload.filename:
        return None
    data = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"{name} is larger than {MAX_UPLOAD_BYTES // 1024} KiB")
    return data or None


def decode_image(data: bytes) -> np.ndarray:
    """Uploaded bytes -> (64, 64, 3) uint8, transparent parts on white; 422 if not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise HTTPException(422, "image is not a readable PNG, JPEG or WebP picture") from err
    rgba = picture.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(background, rgba).convert("RGB").resize((64, 64), Image.LANCZOS))


def decode_audio(data: bytes) -> np.ndarray:
    """Uploaded bytes -> (T,) float32 at 16 kHz; 422 for an unreadable file, a wrong rate or length."""
    import soundfile

    try:
        clip, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    except (RuntimeError, soundfile.LibsndfileError, ValueError) as err:
        raise HTTPException(422, "audio is not a readable WAV, FLAC or OGG file") from err
    try:
        return check_clip(clip, rate)
    except QueryError as err:
        raise HTTPException(422, str(err)) from err


def create_app(directory: str | os.PathLike | None = None, uri: str | None = None) -> FastAPI:
    """The app over the index in ``directory`` (``XMR_SHOP_INDEX`` or ``_build/product_search``).

    ``uri`` (or ``XMR_MILVUS_URI``) points at a Milvus server instead of the Lite file.
    """
    # One torch thread per request: the server runs requests side by side in its thread pool, and
    # on a small CPU several requests each with several torch threads wait on each other.
    torch.set_num_threads(1)
    directory = directory or os.environ.get("XMR_SHOP_INDEX", str(DEFAULT_DIR))
    engine = Engine(directory, uri or os.environ.get("XMR_MILVUS_URI") or None)
    app = FastAPI(title="XMR-Shop product search", version="1.0")
    app.state.engine = engine
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "items": len(engine.catalogue.titles), "groups": engine.groups}

    @app.get("/api/items/{item}/picture.png")
    def picture(item: int) -> Response:
        if not 0 <= item < len(engine.catalogue.titles):
            raise HTTPException(404, f"item must be in [0, {len(engine.catalogue.titles)}), got {item}")
        return Response(png_bytes(engine.catalogue.pictures[item]), media_type="image/png")

    @app.get("/api/examples")
    def examples() -> dict:
        test = [i for i, s in enumerate(engine.catalogue.splits) if s == "test"][:12]
        return {"photos": [{"id": i, "title": engine.catalogue.titles[i], "url": f"/api/photos/{i}.png"} for i in test]}

    @app.get("/api/photos/{item}.png")
    def photo(item: int) -> Response:
        if not 0 <= item < len(engine.catalogue.titles):
            raise HTTPException(404, f"item must be in [0, {len(engine.catalogue.titles)}), got {item}")
        return Response(png_bytes(engine.catalogue.photos[item]), media_type="image/png")

    @app.post("/api/search")
    def search(
        text: Annotated[str | None, Form()] = None,
        image: Annotated[UploadFile | None, File()] = None,
        audio: Annotated[UploadFile | None, File()] = None,
        k: Annotated[int, Form()] = 10,
        group: Annotated[str | None, Form()] = None,
        max_price: Annotated[float | None, Form()] = None,
    ) -> dict:
        if text is not None and len(text) > MAX_TEXT_CHARS:
            raise HTTPException(422, f"text must be at most {MAX_TEXT_CHARS} characters, got {len(text)}")
        image_bytes, audio_bytes = _read_upload(image, "image"), _read_upload(audio, "audio")
        picture = decode_image(image_bytes) if image_bytes is not None else None
        clip = decode_audio(audio_bytes) if audio_bytes is not None else None
        try:
            return engine.search(text=text, image=picture, clip=clip, k=k, group=group or None, max_price=max_price)
        except QueryError as err:
            raise HTTPException(422, str(err)) from err

    return app
