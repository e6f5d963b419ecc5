"""Morton Command Center: navigation, the sign-in gate, and the page registry (pages by role)."""

from __future__ import annotations

import streamlit as st

from mcc.errors import MccError
from pages import auth, common

st.set_page_config(
    page_title="Morton Command Center",
    page_icon=":material/insights:",
    layout="wide",
    initial_sidebar_state="expanded",
)

# (section, title, file, icon, role needed to see the page at all; None = everyone signed in)
PAGES = [
    ("Leakage", "Overview", "pages/overview.py", ":material/dashboard:", None),
    ("Leakage", "Review", "pages/review.py", ":material/fact_check:", None),
    ("Leakage", "What-if", "pages/what_if.py", ":material/tune:", None),
    ("Billing", "Unbilled time", "pages/unbilled_time.py", ":material/schedule:", None),
    ("Billing", "Invoices", "pages/invoices.py", ":material/receipt_long:", None),
    ("Billing", "Billing config", "pages/billing_config.py", ":material/inventory_2:", None),
    ("System", "Sources", "pages/sources.py", ":material/sync:", None),
    ("System", "Audit", "pages/audit.py", ":material/history:", None),
    ("System", "Users", "pages/users.py", ":material/group:", "admin"),
]


def url_path(file: str) -> str:
    return file.removeprefix("pages/").removesuffix(".py").replace("_", "-")


try:
    context = common.context()
except MccError as error:
    st.error(str(error))
    st.stop()

user = auth.gate(context, [(title, url_path(file)) for _, title, file, _, _ in PAGES])

sections: dict[str, list[st.Page]] = {}
for section, title, file, icon, role in PAGES:
    if role is None or user.has(role):
        sections.setdefault(section, []).append(
            st.Page(file, title=title, icon=icon, url_path=url_path(file))
        )
page = st.navigation(sections, position="sidebar")
common.period_picker()
page.run()
