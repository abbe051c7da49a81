import pytest
import torch

from classifiers.metrics import classification_report, confusion_matrix, one_vs_rest_auc, per_class_metrics


def test_confusion_and_per_class_by_hand():
    targets = torch.tensor([0, 0, 0, 1, 1, 2])
    preds = torch.tensor([0, 0, 1, 1, 2, 2])
    cm = confusion_matrix(targets, preds, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    m = per_class_metrics(cm, ["a", "b", "c"])
    assert m["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["b"]["precision"] == pytest.approx(0.5) and m["b"]["recall"] == pytest.approx(0.5)
    assert m["c"]["precision"] == pytest.approx(0.5) and m["c"]["recall"] == pytest.approx(1.0)


def test_auc_by_hand_with_ties():
    targets = torch.tensor([0, 0, 1, 1])
    scores = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.4, 0.6], [0.2, 0.8]])
    aucs = one_vs_rest_auc(targets, scores)
    # class 1: positives score 0.6, 0.8; negatives 0.1, 0.6 -> pairs: (0.6>0.1) (0.6=0.6 -> 0.5) (0.8>0.1) (0.8>0.6) = 3.5/4
    assert aucs[1] == pytest.approx(3.5 / 4)
    assert aucs[0] == pytest.approx(3.5 / 4)


def test_auc_undefined_without_positives():
    assert one_vs_rest_auc(torch.tensor([0, 0]), torch.rand(2, 3))[2] is None


def test_report_macro_f1_ignores_absent_classes():
    targets = torch.tensor([0, 1])
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    report = classification_report(targets, logits, ["a", "b", "c"])
    assert report["accuracy"] == 1.0
    assert report["macro_f1"] == 1.0
    assert report["per_class"]["c"]["support"] == 0
    assert report["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
