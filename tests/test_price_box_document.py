"""The governed box's document field: parsing, the registry mask, and the errors that name the field."""

import pytest

from zkmargin.circuits.rules.price_box_document import GovernedBox, governed_box
from zkmargin.circuits.solvency.params import ParamsError


def test_absent_field_is_a_point_box() -> None:
    box = governed_box({"format": "x"})
    assert box.is_point and box.mask == 0 and box.boxed_assets == ()


def test_mask_has_one_bit_per_boxed_asset() -> None:
    box = governed_box({"price_box": {"box_ppm": 100_000, "boxed_assets": [1, 3, 64]}})
    assert box.mask == (1 << 0) | (1 << 2) | (1 << 63)
    assert box.is_boxed(3) and not box.is_boxed(2)
    assert governed_box({"price_box": box.document_field()}) == box


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"box_ppm": -1, "boxed_assets": []}, "box_ppm"),
        ({"box_ppm": 500_001, "boxed_assets": [1]}, "box_ppm"),
        ({"box_ppm": True, "boxed_assets": [1]}, "box_ppm"),
        ({"box_ppm": 1000, "boxed_assets": [2, 2]}, "strictly increasing"),
        ({"box_ppm": 1000, "boxed_assets": [0]}, "boxed_assets"),
        ({"box_ppm": 1000, "boxed_assets": [65]}, "asset id 65"),
        ({"box_ppm": 0, "boxed_assets": [1]}, "point prices"),
        ({"box_ppm": 1000}, "exactly box_ppm and boxed_assets"),
        ({"box_ppm": 1000, "boxed_assets": "1"}, "list of asset ids"),
    ],
)
def test_bad_fields_are_named(field: dict[str, object], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        governed_box({"price_box": field})


def test_ids_bounded_by_the_shape() -> None:
    with pytest.raises(ParamsError, match="asset id 21 > 20"):
        governed_box({"price_box": {"box_ppm": 1000, "boxed_assets": [21]}}, assets=20)
    assert GovernedBox(1000, (20,)) == governed_box({"price_box": {"box_ppm": 1000, "boxed_assets": [20]}}, 20)
