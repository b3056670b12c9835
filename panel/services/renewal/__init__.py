"""Renewal and plan change (ご契約更新・プラン変更): `pricing` (what may be renewed and its
price), `application` (the one bill an application makes), `page` (the renewal page's rows)."""
