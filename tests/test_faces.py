import numpy as np
import pytest
from PIL import Image

from optional import require_face_detector
from promptcrop import boxes as B
from promptcrop.saliency import faces as F

needs_detector = pytest.mark.usefixtures("face_detector_installed")


@pytest.fixture
def face_detector_installed() -> None:
    require_face_detector()


@pytest.fixture(scope="module")
def detector() -> F.FaceDetector:
    require_face_detector()
    return F.FaceDetector()


def lfw_in_context(face: np.ndarray) -> Image.Image:
    """An LFW thumbnail (25 x 25 grey, tightly cropped) at 100 px in a 200 px grey surround: the
    detector expects a face with some of the scene around it."""
    grey = Image.fromarray((face * 255).astype(np.uint8)).resize((100, 100)).convert("RGB")
    canvas = Image.new("RGB", (200, 200), (128, 128, 128))
    canvas.paste(grey, (50, 50))
    return canvas


@needs_detector
def test_lfw_subset_faces_found_and_non_faces_left_alone(detector):
    import skimage.data

    lfw = skimage.data.lfw_subset()  # [200, 25, 25]: 100 faces, then 100 non-faces
    found_faces = sum(len(detector.detect(lfw_in_context(f))) > 0 for f in lfw[:100])
    found_other = sum(len(detector.detect(lfw_in_context(f))) > 0 for f in lfw[100:])
    assert found_faces >= 65  # measured 76 of 100
    assert found_other <= 4  # measured 1 of 100


@needs_detector
def test_astronaut_has_one_face_where_it_is(detector):
    import skimage.data

    found = detector.detect(skimage.data.astronaut())
    assert len(found) == 1 and 0.5 < found.scores[0] <= 1.0
    annotated = np.array([168.0, 55.0, 285.0, 175.0])  # benchmarks/real_photos_annotations.json
    assert B.elementwise_iou(found.boxes[0], annotated) > 0.5


@needs_detector
def test_scenes_without_people_give_no_faces(detector):
    import skimage.data

    for name in ("coffee", "chelsea", "rocket"):
        assert len(detector.detect(getattr(skimage.data, name)())) == 0, name


@needs_detector
def test_boxes_are_in_the_pixels_of_the_image_given_whatever_its_shape(detector):
    import skimage.data

    face = np.array(detector.detect(skimage.data.astronaut()).boxes[0])
    wide = Image.new("RGB", (1600, 512), (90, 90, 90))  # tiles along the long side
    wide.paste(Image.fromarray(skimage.data.astronaut()), (1000, 0))
    found = detector.detect(wide)
    assert len(found) == 1
    assert B.elementwise_iou(found.boxes[0], face + np.array([1000, 0, 1000, 0])) > 0.7


def small_person_in_a_scene() -> tuple[Image.Image, np.ndarray]:
    """A real photo without people (coffee, 960 x 640) with the astronaut pasted small into it, and
    her face box there (about 30 px, 5 % of the short side)."""
    import skimage.data

    scene = Image.fromarray(skimage.data.coffee()).resize((960, 640))
    person = Image.fromarray(skimage.data.astronaut()).resize((128, 128), Image.Resampling.LANCZOS)
    scene.paste(person, (700, 380))
    return scene, np.array([168.0, 55.0, 285.0, 175.0]) / 4 + np.array([700, 380, 700, 380])


@needs_detector
def test_a_person_small_in_a_scene_is_found_by_the_closer_look(detector):
    scene, face = small_person_in_a_scene()
    found = detector.detect(scene)
    assert len(found) == 1 and found.scores[0] >= detector.config.verify_min_score
    assert B.elementwise_iou(found.boxes[0], face) > 0.4
    first_pass_only = F.FaceDetector(F.FaceDetectorConfig(max_candidates=0))
    assert len(first_pass_only.detect(scene)) == 0  # too small at the whole image's scale


@needs_detector
def test_the_closer_look_costs_at_most_max_candidates_small_passes(detector, monkeypatch):
    import skimage.data

    calls = []
    original = detector._detect_window
    monkeypatch.setattr(detector, "_detect_window", lambda *a, **k: calls.append(1) or original(*a, **k))
    for name in ("coffee", "chelsea", "rocket", "astronaut"):
        calls.clear()
        detector.detect(getattr(skimage.data, name)())
        assert len(calls) <= 1 + detector.config.max_candidates, name
    calls.clear()
    detector.detect(skimage.data.astronaut())  # a face found, no weak candidate away from it: no closer look
    assert len(calls) == 1
    calls.clear()
    detector.detect(skimage.data.coffee())  # its one weak candidate (the cup) is too large to be a small face
    assert len(calls) == 1


@needs_detector
def test_weak_candidates_beside_a_found_face_get_the_closer_look_and_its_echoes_do_not(detector, monkeypatch):
    """A small face at the back of a group scores weakly in the first pass beside a face it finds:
    it is looked at again; a weak detection overlapping the found face is that face seen again."""
    sure, echo, apart = [100.0, 100.0, 160.0, 160.0], [104.0, 98.0, 166.0, 158.0], [400.0, 300.0, 420.0, 320.0]
    first_pass = (np.array([sure, echo, apart]), np.array([0.9, 0.3, 0.3]))
    monkeypatch.setattr(detector, "_detect_window", lambda *a, **k: first_pass)
    looked_at = []

    def closer_look(pil, boxes, scores):
        looked_at.append(boxes.tolist())
        return np.array([[401.0, 301.0, 421.0, 321.0]]), np.array([0.8])

    monkeypatch.setattr(detector, "_closer_look", closer_look)
    found = detector.detect(np.zeros((480, 640, 3), np.uint8))
    assert looked_at == [[apart]]
    assert len(found) == 2 and np.allclose(found.boxes[1], [401, 301, 421, 321])


def test_windows_cover_an_elongated_image_with_overlapping_squares():
    assert F._windows(300, 200, 1.6, 8).tolist() == [[0, 0, 300, 200]]
    assert len(F._windows(300, 200, 1.25, 8)) == 3
    wins = F._windows(1000, 200, 1.6, 8)
    assert wins[0].tolist() == [0, 0, 1000, 200]
    squares = wins[1:]
    assert squares[0, 0] == 0 and squares[-1, 2] == 1000
    assert np.allclose(squares[:, 2] - squares[:, 0], 200) and np.allclose(squares[:, 3], 200)
    assert (np.diff(squares[:, 0]) <= 150 + 1e-9).all()  # overlap of at least a quarter
    tall = F._windows(200, 1000, 1.6, 8)[1:]
    assert np.allclose(tall[:, 2] - tall[:, 0], 200) and tall[-1, 3] == 1000


def test_an_extremely_elongated_image_gets_a_bounded_number_of_longer_tiles():
    wins = F._windows(10_000, 10, 1.6, 8)
    tiles = wins[1:]
    assert len(tiles) == 8
    assert tiles[0, 0] == 0 and np.isclose(tiles[-1, 2], 10_000)
    length = tiles[:, 2] - tiles[:, 0]
    assert np.allclose(length, length[0]) and length[0] > 10
    assert (np.diff(tiles[:, 0]) <= F.TILE_STEP * length[0] + 1e-9).all()  # they still overlap


@needs_detector
def test_a_strip_too_thin_for_a_face_costs_no_model_run(detector, monkeypatch):
    calls = []
    monkeypatch.setattr(detector, "_detect_window", lambda *a, **k: calls.append(a) or (np.zeros((0, 4)), np.zeros(0)))
    faces = detector.detect(np.zeros((2, 640, 3), np.uint8))
    assert len(faces) == 0 and calls == []
    detector.detect(np.zeros((40, 20_000, 3), np.uint8))
    assert len(calls) <= 1 + detector.config.max_tiles + detector.config.max_candidates


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(min_score=0.0), "min_score"),
        (dict(nms_iou=0.0), "nms_iou"),
        (dict(tile_ratio=0.5), "tile_ratio"),
        (dict(min_size=1.0), "min_size"),
        (dict(threads=0), "threads"),
        (dict(candidate_score=0.0), "candidate_score"),
        (dict(candidate_score=0.5), "candidate_score"),
        (dict(max_candidates=-1), "max_candidates"),
        (dict(max_candidate_side=0.0), "max_candidate_side"),
        (dict(max_candidate_side=1.5), "max_candidate_side"),
        (dict(verify_reach=0.0), "verify_reach"),
        (dict(verify_min_score=0.3), "verify_min_score"),
        (dict(verify_min_score=1.0), "verify_min_score"),
    ],
)
def test_config_is_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        F.FaceDetectorConfig(**kwargs)


def test_a_missing_detector_gives_none_and_one_notice(detectors_settled, monkeypatch, capsys):
    monkeypatch.setattr(F, "model_path", lambda: None)
    monkeypatch.setattr(F, "_DEFAULT", None)
    monkeypatch.setattr(F, "_DEFAULT_TRIED", False)
    assert F.default_detector() is None
    assert F.detect_faces(np.zeros((32, 32, 3), np.uint8)) is None
    err = capsys.readouterr().err
    assert err.count("face detector not installed") == 1 and len(err.strip().splitlines()) == 1
    with pytest.raises(RuntimeError, match="model file is missing"):
        F.FaceDetector()


def test_offline_saliency_still_works_without_the_detector(detectors_settled, monkeypatch):
    from promptcrop.saliency import compute_saliency

    monkeypatch.setattr(F, "model_path", lambda: None)
    monkeypatch.setattr(F, "_DEFAULT", None)
    monkeypatch.setattr(F, "_DEFAULT_TRIED", True)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    assert compute_saliency(image).values.shape[1] == 96  # skin-blob faces, no error
    assert len(compute_saliency(image, faces="detector").faces) == 0


@needs_detector
def test_bad_images_are_refused(detector):
    with pytest.raises(ValueError, match="uint8 RGB"):
        detector.detect(np.zeros((10, 10), np.uint8))
