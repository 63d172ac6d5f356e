import numpy as np
import pytest
from PIL import Image

from promptcrop.saliency import objects as O
from promptcrop.saliency import subjects as S
from promptcrop.saliency.map import compute_saliency
from promptcrop.saliency.people import HEAD_MARGINS

CONTENT = np.array([0.0, 0.0, 400.0, 300.0])


def test_main_subjects_are_the_sure_ones_near_the_largest_size():
    boxes = np.array([[100, 50, 200, 250],   # largest, sure
                      [220, 80, 300, 240],   # close in size, sure
                      [120, 60, 140, 90],    # far smaller: in the background
                      [250, 50, 350, 250]], float)  # as large, but the detector is unsure
    scores = np.array([0.9, 0.7, 0.9, S.MAIN_SUBJECT_SCORE - 0.01])
    np.testing.assert_array_equal(S.main_subjects(boxes, scores, CONTENT), boxes[:2])


def test_a_subject_cut_by_the_side_of_the_frame_is_a_bystander_unless_it_is_the_largest():
    boxes = np.array([[150, 40, 260, 280], [0, 60, 90, 280], [330, 60, 400, 280]], float)
    scores = np.array([0.9, 0.9, 0.9])
    np.testing.assert_array_equal(S.main_subjects(boxes, scores, CONTENT), boxes[:1])
    alone = np.array([[0, 40, 120, 300]], float)  # a player leaning out of the left edge
    np.testing.assert_array_equal(S.main_subjects(alone, np.array([0.9]), CONTENT), alone)
    cut_at_bottom = np.array([[150, 40, 260, 300], [280, 60, 360, 300]], float)  # legs cut: still subjects
    assert len(S.main_subjects(cut_at_bottom, scores[:2], CONTENT)) == 2


def test_no_sure_subject_gives_no_box():
    assert S.main_subjects(np.zeros((0, 4)), np.zeros(0), CONTENT).shape == (0, 4)
    assert S.main_subjects(np.array([[0, 0, 10, 10.0]]), np.array([0.1]), CONTENT).shape == (0, 4)


def test_subjects_prior_peaks_at_each_box_middle_scaled_by_its_score():
    cue = S.subjects_prior(np.array([[10, 10, 30, 50], [60, 20, 80, 40]], float), np.array([0.8, 0.5]), (100, 60))
    assert cue.shape == (60, 100) and cue.dtype == np.float32
    assert cue[30, 20] == pytest.approx(0.8, abs=0.05) and cue[30, 70] == pytest.approx(0.5, abs=0.05)
    assert 0.3 < cue[11, 20] < 0.5  # near the box's top edge: EDGE_LEVEL of the score
    assert cue[5, 5] == 0.0 and cue[55, 95] == 0.0
    assert S.subjects_prior(np.zeros((0, 4)), np.zeros(0), (8, 6)).max() == 0.0


class FakeDetector:
    """Finds a person in the middle of whatever it is shown (and a car, which is no subject)."""

    def __init__(self):
        self.seen = []

    def detect(self, image, labels=None):
        self.seen.append(image.size)
        w, h = image.size
        return O.Objects(np.array([[w * 0.4, h * 0.2, w * 0.6, h * 0.9], [0, 0, w * 0.2, h * 0.2]]),
                         np.array([0.9, 0.8]), ("person", "car"))


def test_detected_subjects_are_people_and_animals_in_image_pixels(monkeypatch):
    fake = FakeDetector()
    monkeypatch.setattr(O, "default_object_detector", lambda: fake)
    work = Image.new("RGB", (200, 150))
    found = S.detected_subjects(work, np.array([0.0, 100.0, 400.0, 300.0]), np.array([0.5] * 4))
    assert fake.seen == [(200, 100)]  # the content box only, on the reduced copy
    np.testing.assert_allclose(found.boxes, [[160, 140, 240, 280]])
    assert found.scores.tolist() == [0.9] and found.labels == ("person",)


def test_the_saliency_map_keeps_detected_subjects_and_can_leave_the_detector_out(monkeypatch):
    fake = FakeDetector()
    monkeypatch.setattr(O, "default_object_detector", lambda: fake)
    rgb = np.full((240, 320, 3), 90, np.uint8)
    sal = compute_saliency(rgb, faces="skin")
    assert len(fake.seen) == 1
    np.testing.assert_allclose(sal.people, [[128, 48, 192, 216]], atol=1.0)
    without = compute_saliency(rgb, faces="skin", subjects=False)
    assert len(fake.seen) == 1 and without.people.shape == (0, 4)


@pytest.mark.parametrize(("size", "seen"), [((700, 500), (350, 250)), ((639, 480), (639, 480)), ((300, 200), (300, 200))])
def test_the_detector_sees_a_copy_no_smaller_than_its_input(monkeypatch, size, seen):
    """The detector resizes what it is shown to its 320 px input: it is shown the largest integer
    reduction at least that long (a 700 px photo at 350 px, not the map's 234 px copy), and a
    smaller image as it is."""
    fake = FakeDetector()
    monkeypatch.setattr(O, "default_object_detector", lambda: fake)
    sal = compute_saliency(np.full((size[1], size[0], 3), 90, np.uint8), faces="skin")
    assert fake.seen == [seen]
    w, h = size
    np.testing.assert_allclose(sal.people, [[w * 0.4, h * 0.2, w * 0.6, h * 0.9]], atol=2.0)


def test_a_detector_error_reaches_the_caller(monkeypatch):
    class Broken:
        def detect(self, image, labels=None):
            raise RuntimeError("interpreter failed")

    monkeypatch.setattr(O, "default_object_detector", lambda: Broken())
    with pytest.raises(RuntimeError, match="interpreter failed"):
        compute_saliency(np.full((64, 64, 3), 90, np.uint8), faces="skin")


def test_detections_without_sharp_detail_or_far_softer_than_the_subject_are_background():
    detail = np.full((30, 40), 0.01, np.float32)  # blocks of a 400 x 300 photo, 10 px each
    detail[5:25, 5:15] = 0.6  # a sharp subject at x 50-150
    detail[5:25, 20:30] = 0.12  # a shape with some detail, far softer than the subject
    found = O.Objects(np.array([[50, 50, 150, 250], [200, 50, 300, 250], [310, 50, 390, 250]], float),
                      np.array([0.9, 0.8, 0.7]), ("person", "person", "dog"))
    sharp = S.sharp_subjects(found, detail, (400, 300))
    assert sharp.labels == ("person",) and sharp.boxes.tolist() == [[50, 50, 150, 250]]
    assert len(S.sharp_subjects(found, None, (400, 300))) == 3
    outline = detail.copy()
    outline[5:25, 5:15] = 0.0
    outline[5:25, 5] = outline[5:25, 14] = 0.8  # a flat silhouette with a sharp outline is in focus
    assert S.sharp_subjects(found, outline, (400, 300)).labels[0] == "person"


def test_each_face_belongs_to_the_smallest_detected_person_holding_it():
    found = O.Objects(np.array([[0, 0, 300, 300], [100, 50, 200, 290], [100, 50, 200, 290]], float),
                      np.array([0.9, 0.8, 0.9]), ("person", "person", "dog"))
    faces = np.array([[130, 60, 170, 100], [240, 60, 280, 100], [500, 60, 540, 100]], float)
    assert S.person_holding(faces, found).tolist() == [1, 0, -1]
    assert S.person_holding(faces, O.Objects(np.zeros((0, 4)), np.zeros(0), ())).tolist() == [-1, -1, -1]


def test_a_person_box_far_too_large_for_the_face_it_holds_is_not_that_person():
    # a blurred copy of the subject behind it, ten face widths wide: not the face's body, not a subject
    found = O.Objects(np.array([[0, 0, 560, 360], [340, 170, 450, 360], [10, 10, 60, 60]], float),
                      np.array([0.8, 0.7, 0.6]), ("person", "person", "dog"))
    face = np.array([[365.0, 175.0, 420.0, 245.0]])
    assert S.person_holding(face, found).tolist() == [1]
    kept = S.sized_to_faces(found, face)
    assert kept.labels == ("person", "dog") and kept.boxes[0].tolist() == [340, 170, 450, 360]
    assert len(S.sized_to_faces(found, np.zeros((0, 4)))) == 3  # no face: nothing to judge by
    standing = O.Objects(np.array([[330, 20, 460, 360]], float), np.array([0.9]), ("person",))
    assert len(S.sized_to_faces(standing, np.array([[370.0, 30.0, 410.0, 70.0]]))) == 1  # 8.5 face heights


def test_a_person_box_wider_than_a_body_with_arms_in_stays_a_subject_but_not_the_faces_body():
    """Arms held out or a lunge: a box 10 face widths wide keeps its place among the subjects, but is
    not linked to the face (whose body is then estimated from the face); at 15 widths it is dropped."""
    face = np.array([[300.0, 100.0, 320.0, 120.0]])  # 20 px wide and tall
    lunge = O.Objects(np.array([[210, 90, 410, 300]], float), np.array([0.9]), ("person",))  # 10 wide
    assert S.person_holding(face, lunge).tolist() == [-1]
    assert len(S.sized_to_faces(lunge, face)) == 1
    crowd = O.Objects(np.array([[160, 90, 460, 300]], float), np.array([0.9]), ("person",))  # 15 wide
    assert len(S.sized_to_faces(crowd, face)) == 0
    # a box around a face is no hand, even with a plain wall where its head would be (a head is still
    # estimated at its top: it may hold a neighbour whose face was not seen)
    content = np.array([0.0, 0.0, 640.0, 480.0])
    assert len(S.unseen_heads(lunge, face, content)) == 1
    blank = np.zeros((48, 64))
    blank[20:30, 21:41] = 1.0  # detail in the body only
    assert S.hands_reaching_in(lunge, face, content, blank, (640, 480)).tolist() == [False]


def test_a_person_box_with_the_face_low_in_it_is_not_that_person():
    # a blurred copy behind the subject, only six face widths wide, holds the sharp face in its lower
    # half: not that face's body; a body of the same size with the face at its top is
    face = np.array([[311.0, 215.0, 372.0, 277.0]])
    copy = O.Objects(np.array([[13, 13, 363, 343]], float), np.array([0.8]), ("person",))
    assert S.person_holding(face, copy).tolist() == [-1]
    assert len(S.sized_to_faces(copy, face)) == 0
    body = O.Objects(np.array([[160, 200, 510, 530]], float), np.array([0.8]), ("person",))
    assert S.person_holding(face, body).tolist() == [0]
    assert len(S.sized_to_faces(body, face)) == 1


def _headless(found, faces, content, detail=None, image_size=None) -> np.ndarray:
    """The people compute_saliency drops as headless: bodies below the top and hands reaching in."""
    return S.bodies_below_top(found, faces, content) | S.hands_reaching_in(found, faces, content, detail, image_size)


class OnePerson:
    """An object detector that finds one person, at ``shares`` (x1, y1, x2, y2) of the image's sides."""

    def __init__(self, *shares: float) -> None:
        self.shares = np.array(shares)

    def detect(self, image, labels=None):
        w, h = image.size
        return O.Objects(self.shares[None] * [w, h, w, h], np.array([0.9]), ("person",))


class Nobody:
    """An object detector that finds nothing."""

    def detect(self, image, labels=None):
        return O.Objects(np.zeros((0, 4)), np.zeros(0), ())


def striped(height: int = 240, width: int = 320) -> np.ndarray:
    """Fine stripes: detail everywhere, so a detected person is in focus."""
    rgb = np.full((height, width, 3), 90, np.uint8)
    rgb[::2] = 160
    return rgb


def test_a_face_inside_a_detected_person_takes_that_person_as_its_box(monkeypatch):
    monkeypatch.setattr(O, "default_object_detector", lambda: OnePerson(0.3, 0.1, 0.7, 1.0))
    rgb = striped()
    face = np.array([[140.0, 40.0, 180.0, 80.0]])
    sal = compute_saliency(rgb, faces=face)
    assert len(sal.people) == 1  # the detected person is that face's, not a second subject
    head_top = 40 - HEAD_MARGINS[1] * 40  # the head box's top, above the detection's
    np.testing.assert_allclose(sal.people[0], [96, head_top, 224, 240], atol=1.0)  # head box ∪ the detection


def test_vehicles_are_the_subject_when_no_person_or_animal_is_there(monkeypatch):
    class Street:
        def __init__(self, labels):
            self.labels = labels

        def detect(self, image, labels=None):
            n = len(self.labels)
            return O.Objects(np.tile([[10.0, 10.0, 50.0, 50.0]], (n, 1)), np.full(n, 0.8), self.labels)

    work = Image.new("RGB", (100, 100))
    full = np.array([0.0, 0.0, 100.0, 100.0])
    monkeypatch.setattr(O, "default_object_detector", lambda: Street(("car", "motorcycle", "bench")))
    assert S.detected_subjects(work, full, np.ones(4)).labels == ("car", "motorcycle")
    monkeypatch.setattr(O, "default_object_detector", lambda: Street(("car", "person", "dog")))
    assert S.detected_subjects(work, full, np.ones(4)).labels == ("person", "dog")


def test_a_vehicle_holds_a_subject_inside_it_and_smaller():
    subjects = np.array([[100, 50, 200, 250]], float)
    vehicles = np.array([[0, 0, 300, 200],      # three quarters of the subject inside: held (a rider)
                         [0, 0, 600, 400],      # all of it, a truck they queue at: held
                         [150, 0, 400, 100],    # a quarter inside: a car behind a shoulder
                         [250, 0, 400, 100],    # beside it
                         [100, 50, 200, 200]], float)  # three quarters inside, but smaller than the subject
    assert S.holding(vehicles, subjects).tolist() == [True, True, False, False, False]
    assert S.holding(vehicles, np.zeros((0, 4))).tolist() == [False] * 5
    assert S.holding(np.zeros((0, 4)), subjects).shape == (0,)


def test_held_vehicles_are_sure_whole_and_sharp_outside_the_subject():
    blurred = np.full((30, 40), 0.02, np.float32)  # blocks of a 400 x 300 photo, 10 px each
    blurred[10:30, 14:22] = 0.7  # a sharp person at x 140-220, y 100-300, before a blur
    person = np.array([[140, 100, 220, 300]], float)
    box = [100, 150, 320, 300]
    sharp = blurred.copy()
    sharp[15:30, 22:32] = 0.5  # the frame and wheels beside the rider are sharp too
    bicycle = O.Objects(np.array([box], float), np.array([0.6]), ("bicycle",))
    np.testing.assert_array_equal(S.held_vehicles(bicycle, person, sharp, (400, 300), CONTENT), [box])
    # the same box around the sharp person, but nothing of its own in focus: a car blurred behind
    car = O.Objects(np.array([box], float), np.array([0.6]), ("car",))
    assert len(S.held_vehicles(car, person, blurred, (400, 300), CONTENT)) == 0
    assert len(S.held_vehicles(car, person, None, (400, 300), CONTENT)) == 1  # no detail: not judged
    unsure = O.Objects(np.array([box], float), np.array([S.MAIN_SUBJECT_SCORE - 0.05]), ("bicycle",))
    assert len(S.held_vehicles(unsure, person, sharp, (400, 300), CONTENT)) == 0
    assert len(S.held_vehicles(bicycle, np.zeros((0, 4)), sharp, (400, 300), CONTENT)) == 0  # no main subject
    crossing = sharp.copy()
    crossing[12:30, :] = np.maximum(crossing[12:30, :], 0.5)
    train = O.Objects(np.array([[0, 120, 300, 300]], float), np.array([0.9]), ("train",))  # runs out of the frame
    assert len(S.held_vehicles(train, person, crossing, (400, 300), CONTENT)) == 0


class DogByABicycle:
    """A dog sitting before a bicycle, and a car parked elsewhere (fractions of what it is shown)."""

    def detect(self, image, labels=None):
        w, h = image.size
        boxes = np.array([[0.3, 0.4, 0.5, 0.9], [0.25, 0.3, 0.8, 0.8], [0.0, 0.1, 0.15, 0.3]]) * [w, h, w, h]
        return O.Objects(boxes, np.array([0.9, 0.6, 0.7]), ("dog", "bicycle", "car"))


def test_the_vehicle_a_subject_rides_or_stands_before_is_kept_with_it(monkeypatch):
    monkeypatch.setattr(O, "default_object_detector", DogByABicycle)
    work = Image.new("RGB", (200, 100))
    full = np.array([0.0, 0.0, 200.0, 100.0])
    assert S.detected_subjects(work, full, np.ones(4)).labels == ("dog", "bicycle")  # not the car
    animate, vehicles = S.with_vehicles(S.detected_subjects(work, full, np.ones(4)))
    assert animate.labels == ("dog",) and vehicles.labels == ("bicycle",)
    sal = compute_saliency(np.full((240, 320, 3), 90, np.uint8), faces="skin")
    np.testing.assert_allclose(sal.people, [[96, 96, 160, 216], [80, 72, 256, 192]], atol=1.0)
    # the same bicycle beside nobody is the subject itself, as any lone vehicle
    alone = O.Objects(np.array([[10.0, 10, 90, 60]]), np.array([0.6]), ("bicycle",))
    assert S.with_vehicles(alone)[0].labels == ("bicycle",) and not len(S.with_vehicles(alone)[1])


def test_faces_cut_by_the_side_of_the_photo_do_not_widen_the_people_to_keep():
    rgb = np.full((300, 600, 3), 120, np.uint8)
    middle = [280.0, 60.0, 330.0, 120.0]
    faces = np.array([middle, [0.0, 70.0, 45.0, 125.0], [557.0, 70.0, 600.0, 125.0]])  # a crowd's edges
    sal = compute_saliency(rgb, faces=faces, subjects=False)
    assert len(sal.faces) == 3  # every face is still never to be cut
    assert len(sal.people) == 1 and sal.people[0][0] > 200 and sal.people[0][2] < 400
    alone = compute_saliency(rgb, faces=faces[1:2], subjects=False)
    assert len(alone.people) == 1  # the largest (here the only) face is kept, edge or not
    frame = np.array([0.0, 0.0, 600.0, 300.0])
    cut = S.cut_by_side(faces, frame, largest=np.array([True, False, False]))
    assert cut.tolist() == [False, True, True]


def test_a_box_squeezed_to_the_frame_edge_is_judged_on_the_last_blocks():
    detail = np.full((30, 40), 0.5, np.float32)
    edge = O.Objects(np.array([[400.0, 60.0, 400.0, 240.0], [0.0, 300.0, 100.0, 300.0]]), np.array([0.9, 0.8]),
                     ("person", "dog"))
    assert len(S.sharp_subjects(edge, detail, (400, 300))) == 2  # no empty slice of blocks


def test_a_main_person_without_a_seen_face_gets_a_head_at_the_top_of_its_box():
    found = O.Objects(np.array([[100, 40, 200, 300],    # no face found in it: looking down, a helmet
                                [220, 50, 300, 290],    # holds a detected face
                                [300, 0, 380, 280],     # cut off by the photo's top: the head is outside
                                [10, 200, 20, 215],     # far smaller: in the background
                                [40, 60, 140, 280]], float),
                      np.array([0.9, 0.9, 0.9, 0.9, 0.8]), ("person", "person", "person", "person", "dog"))
    faces = np.array([[245.0, 60.0, 275.0, 95.0]])
    heads = S.unseen_heads(found, faces, CONTENT)
    width = S.UNSEEN_HEAD_WIDTH * 100
    np.testing.assert_allclose(heads, [[150 - width / 2, 40, 150 + width / 2, 40 + width]])
    assert S.unseen_heads(found, np.zeros((0, 4)), CONTENT).shape == (2, 4)  # no face seen: both whole main people
    squat = O.Objects(np.array([[100.0, 100.0, 230.0, 200.0]]), np.array([0.9]), ("person",))  # crouching, reaching out
    assert S.unseen_heads(squat, np.zeros((0, 4)), CONTENT)[0, 3] == pytest.approx(100 + S.UNSEEN_HEAD_TALL * 100)
    # lying down, or an arm reaching into the frame: where the head is (if in the photo) is unknown
    flat = O.Objects(np.array([[100.0, 100.0, 300.0, 160.0], [100.0, 100.0, 260.0, 200.0]]), np.array([0.9, 0.9]),
                     ("person", "person"))
    assert S.unseen_heads(flat, np.zeros((0, 4)), CONTENT).shape == (0, 4)
    assert S.unseen_heads(O.Objects(np.zeros((0, 4)), np.zeros(0), ()), faces, CONTENT).shape == (0, 4)


def test_a_neighbours_face_inside_an_overlapping_box_does_not_hide_a_head():
    # two people side by side, their boxes overlapping; only the right one's face was found
    found = O.Objects(np.array([[100, 40, 220, 290], [170, 45, 290, 290]], float), np.array([0.9, 0.9]),
                      ("person", "person"))
    face = np.array([[195.0, 55.0, 235.0, 100.0]])  # inside both boxes, the right one's
    assert S.person_holding(face, found).tolist() == [1]
    heads = S.unseen_heads(found, face, CONTENT)
    assert len(heads) == 1 and heads[0, 1] == 40  # the left one's head


def test_a_faceless_person_box_whose_top_is_a_seen_head_adds_no_head():
    """In a tight group the detector gives a second box around one person, or one across two: it
    holds no face of its own (each face belongs to one box), but its top is a head already seen."""
    found = O.Objects(np.array([[100, 40, 200, 300], [110, 30, 210, 290], [260, 60, 360, 300]], float),
                      np.array([0.9, 0.9, 0.9]), ("person",) * 3)
    faces = np.array([[135.0, 45.0, 175.0, 95.0]])  # the first person's; the second box is around them too
    assert S.person_holding(faces, found).tolist() == [0]
    heads = S.unseen_heads(found, faces, CONTENT)
    assert len(heads) == 1 and heads[0, 0] > 260  # only the third person's, whose face was not seen
    assert len(S.unseen_heads(found, np.zeros((0, 4)), CONTENT)) == 3


def test_the_saliency_map_holds_the_unseen_heads_in_image_pixels(monkeypatch):
    monkeypatch.setattr(O, "default_object_detector", lambda: OnePerson(0.25, 0.2, 0.5, 1.0))
    rgb = striped()
    sal = compute_saliency(rgb, faces=np.zeros((0, 4)))
    width = S.UNSEEN_HEAD_WIDTH * 80
    np.testing.assert_allclose(sal.heads, [[120 - width / 2, 48, 120 + width / 2, 48 + width]], atol=1.0)
    big = compute_saliency(rgb[::2, ::2], faces=np.zeros((0, 4)), image_size=(320, 240))
    np.testing.assert_allclose(big.heads, sal.heads, atol=2.0)  # a reduced copy: the same heads
    assert len(compute_saliency(rgb, faces=np.array([[105.0, 50.0, 135.0, 85.0]])).heads) == 0
    skin = compute_saliency(rgb, faces="skin")  # no face detector: skin blobs are the faces (none here)
    np.testing.assert_allclose(skin.heads, sal.heads)


def test_unseen_heads_inside_frame_bars_are_in_the_whole_images_pixels(monkeypatch):
    monkeypatch.setattr(O, "default_object_detector", lambda: OnePerson(0.25, 0.2, 0.5, 1.0))
    rgb = striped(320, 320)
    rgb[:40] = rgb[280:] = 0  # letterbox bars: the photo is [0, 40, 320, 280]
    sal = compute_saliency(rgb, faces=np.zeros((0, 4)))
    x1, y1, x2, y2 = sal.content
    assert y1 == pytest.approx(40, abs=2) and y2 == pytest.approx(280, abs=2)
    person = [x1 + 0.25 * (x2 - x1), y1 + 0.2 * (y2 - y1), x1 + 0.5 * (x2 - x1), y2]
    width = S.UNSEEN_HEAD_WIDTH * (person[2] - person[0])
    centre = (person[0] + person[2]) / 2
    np.testing.assert_allclose(sal.heads, [[centre - width / 2, person[1], centre + width / 2, person[1] + width]],
                               atol=1.5)


def test_a_person_whose_head_is_not_in_the_photo_is_headless():
    """Without a face of their own: cut off by the photo's top (a body below the frame), or far wider
    than tall at its left or right edge (an arm reaching in). Lying down away from the sides, or with
    a face of their own, a person."""
    found = O.Objects(np.array([[0, 0, 150, 300],       # the body below the top, at the left edge
                                [250, 120, 400, 180],   # an arm reaching in from the right
                                [260, 40, 360, 300],    # a whole person, face not seen
                                [160, 0, 240, 300],     # seen from behind under the top, in the middle
                                [120, 200, 300, 260],   # lying down in the middle
                                [0, 100, 180, 170]], float),  # lying at the left edge, face seen
                      np.array([0.9] * 6), ("person",) * 6)
    faces = np.array([[10.0, 100.0, 50.0, 150.0]])
    assert _headless(found, faces, CONTENT).tolist() == [True, True, False, True, False, False]
    dog = O.Objects(np.array([[0.0, 0, 150, 300]]), np.array([0.9]), ("dog",))
    assert _headless(dog, np.zeros((0, 4)), CONTENT).tolist() == [False]  # people only


def test_a_hand_reaching_into_the_frame_is_no_person_the_crop_keeps(monkeypatch):
    """An arm the detector takes for a person (from the side, wider than tall, no face): no head is
    estimated on it, it does not join the people kept first, and it adds no subject cue."""
    monkeypatch.setattr(O, "default_object_detector", lambda: OnePerson(0.5, 0.4, 1.0, 0.65))
    sal = compute_saliency(striped(), faces=np.zeros((0, 4)))
    assert len(sal.heads) == 0 and len(sal.people) == 0
    monkeypatch.setattr(O, "default_object_detector", lambda: Nobody())
    np.testing.assert_array_equal(sal.values, compute_saliency(striped(), faces=np.zeros((0, 4))).values)
    monkeypatch.setattr(O, "default_object_detector", lambda: OnePerson(0.25, 0.2, 0.5, 1.0))
    assert len(compute_saliency(striped(), faces=np.zeros((0, 4))).people) == 1  # a whole person does


def test_an_arm_whose_box_stops_short_of_the_side_still_reaches_in():
    """The detector's box of an arm cut by the frame's side stops a few of its pixels short of the
    edge: within HAND_EDGE_MARGIN it is a hand reaching in; farther in it is someone lying down."""
    W = CONTENT[2] - CONTENT[0]
    def arm(gap: float) -> O.Objects:  # wider than tall, faceless, its right end gap × W from the edge
        return O.Objects(np.array([[150.0, 120.0, CONTENT[2] - gap * W, 200.0]]), np.array([0.7]), ("person",))
    no_faces = np.zeros((0, 4))
    assert S.EDGE_MARGIN < 0.02 < S.HAND_EDGE_MARGIN
    assert S.hands_reaching_in(arm(0.02), no_faces, CONTENT).tolist() == [True]
    assert S.hands_reaching_in(arm(S.HAND_EDGE_MARGIN + 0.02), no_faces, CONTENT).tolist() == [False]


def test_an_arm_held_up_at_the_side_is_a_hand_a_body_reaching_the_bottom_is_not():
    """A faceless box at the side, wider than tall but less than UNSEEN_HEAD_MAX_ASPECT times: held
    up (ending above the frame's bottom tenth) it is an arm holding something into the picture;
    reaching the frame's bottom it is a body cut by the side; as tall as wide it is neither."""
    def at_side(x1: float, y1: float, y2: float) -> O.Objects:
        return O.Objects(np.array([[x1, y1, CONTENT[2], y2]]), np.array([0.7]), ("person",))
    no_faces = np.zeros((0, 4))
    held_up = at_side(200.0, 60.0, 220.0)  # 200 x 160: 1.25 wide per tall, its bottom at 73 %
    assert 1.0 < 200 / 160 < S.UNSEEN_HEAD_MAX_ASPECT and 220 < (1 - S.HAND_ABOVE_BOTTOM) * CONTENT[3]
    assert S.hands_reaching_in(held_up, no_faces, CONTENT).tolist() == [True]
    assert S.hands_reaching_in(at_side(200.0, 140.0, 300.0), no_faces, CONTENT).tolist() == [False]  # to the bottom
    assert S.hands_reaching_in(at_side(240.0, 60.0, 220.0), no_faces, CONTENT).tolist() == [False]  # as tall as wide
    letterboxed = np.array([0.0, 50.0, 400.0, 250.0])  # the photo between bars: its bottom is at 250
    assert S.hands_reaching_in(at_side(200.0, 60.0, 220.0), no_faces, letterboxed).tolist() == [True]
    assert S.hands_reaching_in(at_side(200.0, 80.0, 240.0), no_faces, letterboxed).tolist() == [False]


def test_a_person_whose_estimated_head_shows_nothing_is_a_hand_reaching_in():
    """A faceless person box whose estimated head lies on blocks without detail (a plain wall above
    a hand holding something up) is a hand; one whose head shows its outline is a person, and so is
    one with a face of their own; a body cut by the top is headless but no hand."""
    found = O.Objects(np.array([[100, 40, 300, 280],   # faceless, nothing where the head would be
                                [100, 40, 300, 280],   # the same box, with a face at its top
                                [310, 0, 390, 200]],   # a body below the top
                               float), np.array([0.9] * 3), ("person",) * 3)
    face = np.array([[180.0, 45.0, 210.0, 80.0]])
    detail = np.full((30, 40), 0.8)
    head = S.estimated_heads(found.boxes[:1])[0] / 10  # detail blocks of 10 px
    detail[int(head[1]) : int(np.ceil(head[3])), int(head[0]) : int(np.ceil(head[2]))] = 0.0
    assert S.hands_reaching_in(found, np.zeros((0, 4)), CONTENT, detail, (400, 300)).tolist() == [True, True, False]
    assert _headless(found, np.zeros((0, 4)), CONTENT, detail, (400, 300)).tolist() == [True, True, True]
    one = found.where(np.array([True, False, False]))
    assert S.hands_reaching_in(one, face, CONTENT, detail, (400, 300)).tolist() == [False]  # the face is theirs
    detail[int(head[1]), int(head[0]) : int(np.ceil(head[2]))] = 0.5  # the head's outline: a person
    assert S.hands_reaching_in(found, np.zeros((0, 4)), CONTENT, detail, (400, 300)).tolist() == [False, False, False]
    assert S.hands_reaching_in(found, np.zeros((0, 4)), CONTENT).tolist() == [False] * 3  # no detail: not tested


def test_a_hand_holding_something_up_before_a_plain_wall_is_no_person(monkeypatch):
    """The detector's person is a hand and what it holds, in the lower part of a plain wall: no head
    is estimated over the wall, and no person is kept first."""
    monkeypatch.setattr(O, "default_object_detector", lambda: OnePerson(0.3, 0.1, 0.9, 0.9))
    rgb = np.full((240, 320, 3), 200, np.uint8)
    rgb[100:216:2, 96:288] = 60  # the detail: the hand and the object, below the head's place
    sal = compute_saliency(rgb, faces=np.zeros((0, 4)))
    assert len(sal.heads) == 0 and len(sal.people) == 0
    rgb[24:60:2, 140:240] = 60  # a head's outline where the estimate is: a person
    sal = compute_saliency(rgb, faces=np.zeros((0, 4)))
    assert len(sal.heads) == 1 and len(sal.people) == 1


def test_the_skin_of_a_hand_reaching_in_counts_for_nothing_in_the_map(monkeypatch):
    """A skin-toned arm reaching in from the side holds a dark cup before a wall: without a detection
    the arm outweighs the cup in the map; once the detector's faceless "person" is the hand (wide, at
    the edge), its skin adds nothing and the cup is what stands out."""
    rng = np.random.default_rng(0)
    rgb = (np.full((240, 320, 3), 210) + rng.integers(-8, 9, (240, 320, 1))).astype(np.uint8)  # a wall
    rgb[100:150, 170:320] = (224, 172, 140)  # the arm, from the right edge
    rgb[60:200, 110:170] = 30  # the cup

    def arm_and_cup(sal) -> tuple[float, float]:
        h, w = sal.values.shape
        arm = sal.values[h * 100 // 240 : h * 150 // 240, w * 200 // 320 :].mean()
        cup = sal.values[h * 60 // 240 : h * 200 // 240, w * 110 // 320 : w * 170 // 320].mean()
        return float(arm), float(cup)

    monkeypatch.setattr(O, "default_object_detector", Nobody)
    arm, cup = arm_and_cup(compute_saliency(rgb, faces=np.zeros((0, 4))))
    assert arm > cup
    monkeypatch.setattr(O, "default_object_detector", lambda: OnePerson(110 / 320, 80 / 240, 1.0, 180 / 240))
    sal = compute_saliency(rgb, faces=np.zeros((0, 4)))
    arm, cup = arm_and_cup(sal)
    assert cup > 5 * arm and len(sal.people) == 0
