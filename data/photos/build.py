"""Rebuild the captioned photos: every picture inside scikit-image's and scikit-learn's wheels.

Run from the repository root (about two seconds)::

    python data/photos/build.py        # writes data/photos/ and updates data/SHA256SUMS

What it writes
--------------
photos.npz
    One uint8 RGB array per photo, named ``photo_<name>``, shape (H, W, 3) with the longest
    side 256 pixels (Pillow's Lanczos filter). Greyscale pictures are repeated into three
    channels and flagged ``greyscale`` in ``photos.json``.
photos.json
    For each photo: name, captions, kind, source package and loader, licence, credit, URL,
    original shape, greyscale flag.

Which pictures: all of ``skimage.data`` that is inside the wheel (the other loaders download
through pooch) and is a picture of something, plus scikit-learn's two sample photos. Left
out: the synthetic test patterns (``checkerboard``, ``colorwheel``, ``binary_blobs``,
``shepp_logan_phantom``), the scikit-image logo, ``lfw_subset`` (200 faces of 25 x 25
pixels), ``cat`` (the same picture as ``chelsea``) and the right image of the stereo pair
(nearly the same as the left one).

The captions were written by hand, by looking at each picture; they describe what is in it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _buildlib import update_sha256sums, versions, write_json, write_npz

HERE = Path(__file__).resolve().parent
LONGEST_SIDE = 256

CC0 = "CC0-1.0"
PD = "public domain"


class Photo(NamedTuple):
    """Where a picture comes from, what it may be used for, and what it shows."""

    package: str
    loader: str
    kind: str
    licence: str
    licence_statement: str  # as the docstring puts it
    credit: str
    url: str
    captions: tuple[str, ...]


PHOTOS: dict[str, Photo] = {
    "astronaut": Photo(
        package="scikit-image",
        loader="astronaut",
        kind="photo",
        licence=PD,
        licence_statement="No known copyright restrictions, released into the public domain.",
        credit="NASA (portrait of Eileen Collins)",
        url="https://flic.kr/p/r9qvLn",
        captions=(
            "A smiling woman with short hair in an orange spacesuit, an American flag behind her.",
            "Portrait of an astronaut holding a black helmet, with a model of the space shuttle on the right.",
        ),
    ),
    "brick": Photo(
        package="scikit-image",
        loader="brick",
        kind="photo",
        licence=CC0,
        licence_statement="Licensed under the Creative Commons CC0 License.",
        credit="CC0Textures (Bricks25)",
        url="https://cc0textures.com/view.php?tex=Bricks25",
        captions=(
            "A grey wall of long narrow bricks seen at an angle.",
            "Black and white close-up of rows of bricks with thin mortar lines.",
        ),
    ),
    "camera": Photo(
        package="scikit-image",
        loader="camera",
        kind="photo",
        licence=CC0,
        licence_statement="No copyright restrictions. CC0 by the photographer (Lav Varshney).",
        credit="Lav Varshney",
        url="https://github.com/scikit-image/scikit-image/issues/3927",
        captions=(
            "A man in a dark coat looks through a camera on a tripod.",
            "Black and white photo of a photographer on a lawn with domed buildings behind him.",
            "Someone filming on a grassy field on a clear day.",
        ),
    ),
    "chelsea": Photo(
        package="scikit-image",
        loader="chelsea",
        kind="photo",
        licence=CC0,
        licence_statement="No copyright restrictions. CC0 by the photographer (Stefan van der Walt).",
        credit="Stefan van der Walt",
        url="",
        captions=(
            "Close-up of the face of a tabby cat with green eyes.",
            "A striped brown cat looking to the side, its whiskers sharp and the background blurred.",
        ),
    ),
    "cell": Photo(
        package="scikit-image",
        loader="cell",
        kind="microscopy",
        licence=CC0,
        licence_statement="This image is CC0, dedicated to the public domain.",
        credit="Paul Müller et al., quantitative phase image",
        url="https://doi.org/10.1364/OE.26.010729",
        captions=(
            "A single bright round cell on a grey, grainy background.",
            "Microscope image of one small white disc in the lower right of a dark grey field.",
        ),
    ),
    "clock": Photo(
        package="scikit-image",
        loader="clock",
        kind="photo",
        licence=PD,
        licence_statement="Released into the public domain by the photographer (Stefan van der Walt).",
        credit="Stefan van der Walt",
        url="",
        captions=(
            "A round object smeared sideways by motion blur on a plain grey wall.",
            "Blurred black and white photo of a wall clock, too smeared to read.",
        ),
    ),
    "coffee": Photo(
        package="scikit-image",
        loader="coffee",
        kind="photo",
        licence=CC0,
        licence_statement="No copyright restrictions. CC0 by the photographer (Rachel Michetti).",
        credit="Rachel Michetti, courtesy of Pikolo Espresso Bar",
        url="",
        captions=(
            "A cup of espresso on a red saucer with a small spoon, on a wooden table.",
            "Top view of a red and white coffee cup with crema on the coffee.",
            "An espresso served on a brown wooden bar.",
        ),
    ),
    "coins": Photo(
        package="scikit-image",
        loader="coins",
        kind="photo",
        licence=PD,
        licence_statement="No known copyright restrictions.",
        credit="Brooklyn Museum Collection",
        url="https://www.brooklynmuseum.org/opencollection/archives/image/51611",
        captions=(
            "Rows of old silver coins with heads and figures on a grey background.",
            "Black and white photo of twenty-four ancient coins laid out in four rows.",
        ),
    ),
    "grass": Photo(
        package="scikit-image",
        loader="grass",
        kind="photo",
        licence=CC0,
        licence_statement="Licensed under the Creative Commons CC0 License.",
        credit="linolafett on DeviantArt",
        url="https://www.deviantart.com/linolafett/art/Grass-01-434853879",
        captions=(
            "Close-up of a lawn: blades of grass and small clover leaves, in grey.",
            "A texture of dense short grass seen from above.",
        ),
    ),
    "gravel": Photo(
        package="scikit-image",
        loader="gravel",
        kind="photo",
        licence=CC0,
        licence_statement="Licensed under the Creative Commons CC0 License.",
        credit="CC0Textures (Gravel04)",
        url="https://cc0textures.com/view.php?tex=Gravel04",
        captions=(
            "Many small sharp grey stones seen from above.",
            "A texture of crushed gravel filling the whole picture.",
        ),
    ),
    "horse": Photo(
        package="scikit-image",
        loader="horse",
        kind="drawing",
        licence=CC0,
        licence_statement="No copyright restrictions. CC0 given by owner (Andreas Preuss (marauder)).",
        credit="Andreas Preuss (marauder), openclipart",
        url="http://openclipart.org/detail/158377/horse-by-marauder",
        captions=(
            "A black silhouette of a standing horse facing right, on white.",
            "The outline of a horse filled in black, seen from the side.",
        ),
    ),
    "hubble_deep_field": Photo(
        package="scikit-image",
        loader="hubble_deep_field",
        kind="photo",
        licence=PD,
        licence_statement="Captured by NASA and may be freely used in the public domain.",
        credit="NASA, ESA (Hubble eXtreme Deep Field)",
        url="http://hubblesite.org/newscenter/archive/releases/2012/37/image/a/",
        captions=(
            "Hundreds of small galaxies of many colours on a black sky.",
            "A deep space image full of tiny orange, white and blue spots and spirals.",
        ),
    ),
    "immunohistochemistry": Photo(
        package="scikit-image",
        loader="immunohistochemistry",
        kind="microscopy",
        licence=PD,
        licence_statement="No known copyright restrictions.",
        credit="Center for Microscopy And Molecular Imaging (CMMI)",
        url="",
        captions=(
            "A stained tissue sample: brown glands with blue nuclei between them.",
            "Microscope slide of colon tissue, curved brown bands on a pale blue background.",
        ),
    ),
    "microaneurysms": Photo(
        package="scikit-image",
        loader="microaneurysms",
        kind="medical",
        licence=CC0,
        licence_statement="No copyright restrictions. CC0 given by owner (Andreas Maier).",
        credit="Andreas Maier, HRF image database",
        url="https://www5.cs.fau.de/research/data/fundus-images/",
        captions=(
            "A small grey patch crossed by two dark curved lines and a few dark dots.",
            "A tiny, low-contrast crop of the back of an eye showing blood vessels.",
        ),
    ),
    "moon": Photo(
        package="scikit-image",
        loader="moon",
        kind="photo",
        licence="not stated",
        licence_statement="The docstring states no licence; distributed with scikit-image (BSD-3-Clause).",
        credit="scikit-image",
        url="",
        captions=(
            "A grey, low-contrast surface with a few small craters and dark patches.",
            "Close-up of the surface of the moon in grey.",
        ),
    ),
    "page": Photo(
        package="scikit-image",
        loader="page",
        kind="scan",
        licence="not stated",
        licence_statement="The docstring states no licence; distributed with scikit-image (BSD-3-Clause).",
        credit="scikit-image",
        url="",
        captions=(
            "A photographed page of a book with the heading 'Region-based segmentation'.",
            "Printed text and a line of Python code on a page lit unevenly.",
        ),
    ),
    "retina": Photo(
        package="scikit-image",
        loader="retina",
        kind="medical",
        licence=CC0,
        licence_statement="Made available under the Creative Commons CC0 1.0 Universal Public Domain Dedication.",
        credit="Mikael Häggström",
        url="https://commons.wikimedia.org/wiki/File:Fundus_photograph_of_normal_left_eye.jpg",
        captions=(
            "A round orange-red image of the back of an eye with branching blood vessels.",
            "Photo of a retina: a bright yellow disc on the left and a dark spot in the centre.",
        ),
    ),
    "rocket": Photo(
        package="scikit-image",
        loader="rocket",
        kind="photo",
        licence=PD,
        licence_statement="Captured by SpaceX and released in the public domain.",
        credit="SpaceX",
        url="https://www.flickr.com/photos/spacexphotos/16511594820/",
        captions=(
            "A white rocket standing on its launch pad between tall lattice towers at dusk.",
            "A rocket ready for launch under a deep blue evening sky, with bright lights at the bottom.",
        ),
    ),
    "text": Photo(
        package="scikit-image",
        loader="text",
        kind="photo",
        licence=PD,
        licence_statement="No known copyright restrictions, released into the public domain.",
        credit="Wikipedia (File:Corner.png)",
        url="https://en.wikipedia.org/wiki/File:Corner.png",
        captions=(
            "Handwritten maths formulas on lined paper, photographed at a slant.",
            "Black and white close-up of equations written in pen.",
        ),
    ),
    "motorcycle": Photo(
        package="scikit-image",
        loader="stereo_motorcycle",
        kind="photo",
        licence="not stated",
        licence_statement="The docstring states no licence; from the Middlebury 2014 stereo benchmark.",
        credit="Scharstein et al., Middlebury 2014 stereo datasets",
        url="https://vision.middlebury.edu/stereo/data/",
        captions=(
            "A red motorcycle parked in a garage, shelves with boxes behind it.",
            "A red and black motorbike on a concrete floor next to a wooden bench.",
        ),
    ),
    "china": Photo(
        package="scikit-learn",
        loader="load_sample_images",
        kind="photo",
        licence="CC-BY-2.0",
        licence_statement=(
            "Released under a creative commons license. Attribution: Some rights reserved by danielbuechele."
        ),
        credit="danielbuechele (Flickr)",
        url="https://www.flickr.com/photos/danielbuechele/6061409035/",
        captions=(
            "A tall Chinese pagoda with orange and green tiled roofs above trees and a lake.",
            "A temple tower on a hill overlooking a wide lake on a hazy day.",
        ),
    ),
    "flower": Photo(
        package="scikit-learn",
        loader="load_sample_images",
        kind="photo",
        licence="CC-BY-2.0",
        licence_statement="Released under a creative commons license. Attribution: Some rights reserved by vultilion.",
        credit="vultilion (Flickr)",
        url="https://www.flickr.com/photos/vultilion/6056698931/",
        captions=(
            "A round orange dahlia flower in front of dark green leaves.",
            "Close-up of a pale orange pompom flower with many curled petals, the background blurred.",
        ),
    ),
}


def load_original(name: str, package: str, loader: str) -> np.ndarray:
    """The picture as its package returns it."""
    if package == "scikit-learn":
        from sklearn.datasets import load_sample_images

        bunch = load_sample_images()
        files = [Path(f).stem for f in bunch.filenames]
        return bunch.images[files.index(name)]
    import skimage.data

    image = getattr(skimage.data, loader)()
    if loader == "stereo_motorcycle":
        image = image[0]  # the left image of the pair
    return np.asarray(image)


def to_rgb_uint8(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """uint8 RGB of shape (H, W, 3) and whether the original was greyscale."""
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        raise RuntimeError(f"unexpected dtype {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2), True
    return image[:, :, :3], False


def downsize(image: np.ndarray) -> np.ndarray:
    """Resize so that the longest side is ``LONGEST_SIDE`` (never enlarges)."""
    h, w = image.shape[:2]
    scale = min(1.0, LONGEST_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    parser.add_argument("--preview", type=Path, help="also save each original as PNG here, to look at")
    args = parser.parse_args(argv)
    arrays, records = {}, []
    for name, photo in PHOTOS.items():
        original = load_original(name, photo.package, photo.loader)
        rgb, greyscale = to_rgb_uint8(original)
        if args.preview:
            args.preview.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(args.preview / f"{name}.png")
        arrays[f"photo_{name}"] = downsize(rgb)
        records.append(
            {
                "name": name,
                "captions": list(photo.captions),
                "kind": photo.kind,
                "package": photo.package,
                "loader": f"{'skimage.data' if photo.package == 'scikit-image' else 'sklearn.datasets'}.{photo.loader}",
                "licence": photo.licence,
                "licence_statement": photo.licence_statement,
                "credit": photo.credit,
                "url": photo.url,
                "original_shape": list(original.shape),
                "greyscale": greyscale,
            }
        )
    args.out.mkdir(parents=True, exist_ok=True)
    write_npz(args.out / "photos.npz", arrays)
    write_json(args.out / "photos.json", records)
    write_json(
        args.out / "build_info.json",
        {"longest_side": LONGEST_SIDE, "versions": versions("numpy", "pillow", "scikit-image", "scikit-learn")},
    )
    if args.out.resolve() == HERE:
        update_sha256sums([args.out / "photos.npz", args.out / "photos.json"])


if __name__ == "__main__":
    main()
