from typing import Any
from tests.gui.test_accessibility import unnamed
from tests.gui.test_no_leaks import _select_photos, OPENERS
def test_list(qtbot: Any, main_window: Any) -> None:
    _select_photos(main_window, qtbot)
    print("MAIN", unnamed(main_window))
    for key in ["referral","export","consent","import","backup","about","pacs"]:
        _select_photos(main_window, qtbot)
        OPENERS[key](main_window)
        d = main_window.dialog_shown
        qtbot.waitExposed(d)
        print(key, unnamed(d))
        d.reject()
