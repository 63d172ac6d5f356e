import math

import numpy as np
import pytest
from scipy import stats

from promptcrop import metrics as M

# Four GAIC-like candidates (pixels, xyxy) with hand-chosen MOS: the 2nd highest MOS is 4.0 and is
# shared by two candidates (a tie), the 3rd highest is 4.0 as well, the 4th is 2.0.
CANDIDATES = np.array(
    [[0, 0, 10, 10], [0, 0, 20, 10], [10, 0, 20, 10], [0, 0, 20, 20]], dtype=float
)
MOS = np.array([2.0, 4.0, 4.0, 5.0])


# --------------------------------------------------------------------------- IoU-Mean / IoU-Max


def test_iou_mean_max_hand_values():
    pred = np.array([0, 0, 10, 10])
    gt = np.array([[0, 0, 10, 10], [0, 0, 20, 10], [20, 20, 30, 30]])
    r = M.iou_mean_max(pred, gt)
    assert r.mean == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert r.max == pytest.approx(1.0)
    assert isinstance(r.mean, float) and isinstance(r.max, float)


def test_iou_mean_max_degenerate_cases_are_zero():
    gt = np.array([[0, 0, 10, 10]])
    assert M.iou_mean_max(None, gt) == M.IouMeanMax(0.0, 0.0)
    assert M.iou_mean_max(np.zeros((0, 4)), gt) == M.IouMeanMax(0.0, 0.0)
    assert M.iou_mean_max([0, 0, 10, 10], np.zeros((0, 4))) == M.IouMeanMax(0.0, 0.0)
    # zero-area prediction identical to a zero-area annotation, and a NaN box
    assert M.iou_mean_max([5, 5, 5, 5], [[5, 5, 5, 5]]) == M.IouMeanMax(0.0, 0.0)
    r = M.iou_mean_max([np.nan, 0, 10, 10], gt)
    assert r == M.IouMeanMax(0.0, 0.0)
    with pytest.raises(ValueError):
        M.iou_mean_max([[0, 0, 1, 1], [0, 0, 2, 2]], gt)
    with pytest.raises(ValueError):
        M.iou_mean_max([0, 0, 1], gt)


def test_dataset_iou_averages_over_every_sample():
    preds = [[0, 0, 10, 10], None]
    gts = [np.array([[0, 0, 10, 10], [0, 0, 20, 10]]), np.array([[0, 0, 5, 5]])]
    r = M.dataset_iou_mean_max(preds, gts)
    assert r.mean == pytest.approx((0.75 + 0.0) / 2)
    assert r.max == pytest.approx((1.0 + 0.0) / 2)
    assert M.dataset_iou_mean_max([], []) == M.IouMeanMax(0.0, 0.0)
    with pytest.raises(ValueError):
        M.dataset_iou_mean_max(preds, gts[:1])


# --------------------------------------------------------------------------- Acc_K/N


def test_nth_highest_mos_with_ties_and_few_candidates():
    assert M.nth_highest_mos(MOS, 1) == 5.0
    assert M.nth_highest_mos(MOS, 2) == 4.0
    assert M.nth_highest_mos(MOS, 3) == 4.0
    assert M.nth_highest_mos(MOS, 4) == 2.0
    # fewer than N candidates: N becomes the candidate count (lowest MOS)
    assert M.nth_highest_mos(MOS, 10) == 2.0
    assert M.nth_highest_mos([], 5) == math.inf
    with pytest.raises(ValueError):
        M.nth_highest_mos(MOS, 0)


def test_acc_from_scores_hand_values():
    # ranking by score: candidate 0 (MOS 2), 1 (MOS 4), 3 (MOS 5), 2 (MOS 4)
    scores = np.array([0.9, 0.8, 0.1, 0.5])
    assert M.acc_k_n(scores, CANDIDATES, MOS, k=1, n=1).acc == 0.0
    assert M.acc_k_n(scores, CANDIDATES, MOS, k=1, n=4).acc == 1.0
    # top-2 = MOS 2, 4; threshold N=2 is 4.0 -> the tied 4.0 counts as a hit
    assert M.acc_k_n(scores, CANDIDATES, MOS, k=2, n=2).acc == pytest.approx(0.5)
    # top-3 = MOS 2, 4, 5; N=1 threshold 5 -> one hit
    assert M.acc_k_n(scores, CANDIDATES, MOS, k=3, n=1).acc == pytest.approx(1 / 3)
    # scores of candidates: mapping IoU is 1 by definition
    assert M.acc_k_n(scores, CANDIDATES, MOS, k=3, n=1).mapping_iou == 1.0


def test_acc_tie_at_nth_highest_counts_as_hit():
    # the second candidate with MOS 4.0 (index 2) is top-1; N = 2 -> threshold 4.0 -> hit
    scores = np.array([0.0, 0.1, 0.9, 0.2])
    assert M.acc_k_n(scores, CANDIDATES, MOS, k=1, n=2).acc == 1.0
    # N = 1 -> threshold 5.0 -> miss
    assert M.acc_k_n(scores, CANDIDATES, MOS, k=1, n=1).acc == 0.0


def test_acc_all_equal_mos_every_crop_is_a_hit():
    mos = np.full(4, 3.0)
    r = M.acc_k_n(np.array([0.3, 0.2, 0.9, 0.1]), CANDIDATES, mos, k=4, n=1)
    assert r.acc == 1.0


def test_acc_fewer_than_n_candidates_uses_candidate_count():
    cands, mos = CANDIDATES[:2], MOS[:2]
    # N = 5 > 2 candidates -> threshold = lowest MOS, so everything is a hit
    assert M.acc_k_n(np.array([0.9, 0.1]), cands, mos, k=1, n=5).acc == 1.0
    # K = 4 > 2 returned crops: the missing ones are misses (divide by K)
    assert M.acc_k_n(np.array([0.9, 0.1]), cands, mos, k=4, n=5).acc == pytest.approx(0.5)


def test_acc_free_boxes_are_mapped_to_highest_iou_candidate():
    boxes = np.array(
        [
            [0, 0, 19, 19],  # closest to candidate 3 (MOS 5): IoU 361/400
            [1, 0, 10, 10],  # candidate 0 (MOS 2): IoU 90/100
            [50, 50, 60, 60],  # overlaps nothing: never a hit
        ],
        dtype=float,
    )
    ranked = M.ranked_crops_from_boxes(boxes, CANDIDATES, MOS)
    np.testing.assert_allclose(ranked.mos, [5.0, 2.0, -np.inf])
    np.testing.assert_allclose(ranked.mapping_iou, [361 / 400, 0.9, 0.0])
    r = M.acc_k_n(boxes, CANDIDATES, MOS, k=1, n=1)
    assert r.acc == 1.0 and r.mapping_iou == pytest.approx(361 / 400)
    r = M.acc_k_n(boxes, CANDIDATES, MOS, k=3, n=4)
    assert r.acc == pytest.approx(2 / 3)
    assert r.mapping_iou == pytest.approx((361 / 400 + 0.9 + 0.0) / 3)
    # a single free box must be [1, 4]
    assert M.acc_k_n(boxes[:1], CANDIDATES, MOS, k=1, n=1).acc == 1.0


def test_acc_degenerate_inputs_are_zero_not_errors():
    empty = M.AccResult(acc=0.0, mapping_iou=0.0)
    assert M.acc_k_n(np.zeros((0, 4)), CANDIDATES, MOS, k=1, n=5) == empty
    assert M.acc_k_n([], CANDIDATES, MOS, k=1, n=5) == empty
    assert M.acc_k_n(None, CANDIDATES, MOS, k=1, n=5) == empty
    assert M.acc_k_n(np.array([[0, 0, 5, 5]]), np.zeros((0, 4)), [], k=1, n=5) == empty
    # zero-area free box maps to nothing
    r = M.acc_k_n(np.array([[3, 3, 3, 3]]), CANDIDATES, MOS, k=1, n=4)
    assert r == empty


def test_acc_malformed_inputs_raise():
    with pytest.raises(ValueError):
        M.acc_k_n(np.array([0.1, 0.2]), CANDIDATES, MOS, k=1, n=1)  # 2 scores, 4 candidates
    with pytest.raises(ValueError):
        M.acc_k_n(np.array([0.1, 0.2, 0.3, 0.4]), CANDIDATES, MOS, k=0, n=1)
    with pytest.raises(ValueError):
        M.acc_k_n(np.array([0.1, np.nan, 0.3, 0.4]), CANDIDATES, MOS, k=1, n=1)
    with pytest.raises(ValueError):
        M.acc_k_n(np.array([0.1, 0.2, 0.3, 0.4]), CANDIDATES, MOS[:3], k=1, n=1)


def test_dataset_acc_divides_by_real_image_count_and_acc_bar():
    scores_a = np.array([0.0, 0.1, 0.2, 0.9])  # ranking MOS: 5, 4, 4, 2
    scores_b = np.array([0.9, 0.8, 0.1, 0.5])  # ranking MOS: 2, 4, 5, 4
    preds = [scores_a, scores_b, np.zeros((0, 4))]
    cands = [CANDIDATES, CANDIDATES, CANDIDATES]
    moss = [MOS, MOS, MOS]
    r = M.dataset_acc_k_n(preds, cands, moss, k=1, n=2)
    assert r.acc == pytest.approx((1 + 0 + 0) / 3)
    assert r.mapping_iou == pytest.approx((1 + 1 + 0) / 3)
    # Acc_K/2 for K = 1..4: image a: 1, 1, 1, 3/4; image b: 0, 1/2, 2/3, 3/4; image c: 0
    per_k = [(1 + 0) / 3, (1 + 0.5) / 3, (1 + 2 / 3) / 3, (0.75 + 0.75) / 3]
    bar = M.acc_bar_n(preds, cands, moss, n=2)
    assert bar.acc == pytest.approx(np.mean(per_k))
    assert bar.mapping_iou == pytest.approx(2 / 3)
    assert M.dataset_acc_k_n([], [], [], k=1, n=5) == M.AccResult(0.0, 0.0)
    with pytest.raises(ValueError):
        M.dataset_acc_k_n(preds, cands[:2], moss, k=1, n=5)


# --------------------------------------------------------------------------- SRCC / PCC


def test_srcc_pcc_match_scipy_on_random_data():
    rng = np.random.default_rng(0)
    preds, moss = [], []
    for _ in range(5):
        mos = rng.uniform(1, 5, size=30)
        pred = 0.5 * mos + rng.normal(size=30)
        r = M.srcc_pcc(pred, mos)
        assert r.srcc == pytest.approx(stats.spearmanr(pred, mos).statistic)
        assert r.pcc == pytest.approx(stats.pearsonr(pred, mos).statistic)
        preds.append(pred)
        moss.append(mos)
    agg = M.dataset_srcc_pcc(preds, moss)
    pairs = list(zip(preds, moss))
    assert agg.srcc == pytest.approx(np.mean([stats.spearmanr(p, m).statistic for p, m in pairs]))
    assert agg.pcc == pytest.approx(np.mean([stats.pearsonr(p, m).statistic for p, m in pairs]))


def test_srcc_pcc_hand_values_and_degenerate_cases():
    r = M.srcc_pcc([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    assert r.srcc == pytest.approx(-1.0) and r.pcc == pytest.approx(-1.0)
    zero = M.Correlation(0.0, 0.0)
    assert M.srcc_pcc([0.1, 0.5, 0.9], [3.0, 3.0, 3.0]) == zero  # all-equal MOS
    assert M.srcc_pcc([0.5, 0.5, 0.5], [1.0, 2.0, 3.0]) == zero  # constant predictions
    assert M.srcc_pcc([0.5], [3.0]) == zero
    assert M.srcc_pcc([], []) == zero
    assert M.dataset_srcc_pcc([], []) == zero
    agg = M.dataset_srcc_pcc([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert agg.srcc == pytest.approx(0.5) and agg.pcc == pytest.approx(0.5)
    with pytest.raises(ValueError):
        M.srcc_pcc([0.1, 0.2], [1.0, 2.0, 3.0])
