"""The framework floor for bench/ui.py: a bare Streamlit app with the same widgets as MCC's sign-in,
Review and navigation (text inputs, a selectbox between Previous / Next, metrics, a 12-row table, an
expander with the decision form, an Exclude button, a bulk button) and no data work at all.

    streamlit run bench/ui_floor.py
"""

from __future__ import annotations

import streamlit as st

ROWS = {
    "Product": [f"Product {n}" for n in range(12)],
    "Contracted": list(range(12)),
    "Observed": list(range(1, 13)),
    "Monthly": [f"${n * 45:,.2f}" for n in range(12)],
    "Status": ["Under-billed"] * 12,
}
CLIENTS = [f"Client {n:02d}" for n in range(40)]


def sign_in() -> None:
    with st.form("login"):
        username = st.text_input("Username")
        st.text_input("Password", type="password")
        if st.form_submit_button("Sign in"):
            st.session_state["user"] = username
            st.rerun()


def overview() -> None:
    st.title("Overview")
    for column, label in zip(
        st.columns(4), ["Monthly leakage", "Back-bill", "Over-billed", "Open gaps"], strict=True
    ):
        column.metric(label, "$1,234.00")
    st.dataframe(ROWS, hide_index=True)


def _go(step: int) -> None:
    st.session_state["client"] = (st.session_state.get("client", 0) + step) % len(CLIENTS)


def review() -> None:
    st.title("Review")
    with st.expander("Decide many gaps at once"):
        st.selectbox("Action", ["Write off", "Defer"], key="bulk_action")
        if st.button("Write off: 3 gaps", key="bulk_decide"):
            st.session_state["bulk"] = st.session_state.get("bulk", 0) + 1
    left, middle, right = st.columns([1, 4, 1], vertical_alignment="bottom")
    left.button("◀ Previous", key="review_prev", on_click=_go, args=(-1,), width="stretch")
    right.button("Next ▶", key="review_next", on_click=_go, args=(1,), width="stretch")
    position = st.session_state.get("client", 0)
    middle.selectbox("Client", CLIENTS, index=position, key=f"pick_{position}")
    st.markdown(f"## {CLIENTS[position]}")
    for column, label in zip(
        st.columns(4), ["Monthly leakage", "Back-bill", "Over-billed", "Open gaps"], strict=True
    ):
        column.metric(label, "$1,234.00")
    st.dataframe(ROWS, hide_index=True)
    with st.expander("**Product 0** — 10 contracted, 12 billable", expanded=True):
        st.dataframe(ROWS, hide_index=True, height=200)
        with st.form("decide"):
            st.radio("Decision", ["Bump", "Back-bill", "Write off", "Exclude", "Defer"])
            st.number_input("New contracted quantity (bump)", min_value=0, value=12)
            st.multiselect("Entities to exclude", ROWS["Product"])
            st.text_input("Note")
            if st.form_submit_button("Record decision", type="primary"):
                st.session_state["decided"] = st.session_state.get("decided", 0) + 1
    st.subheader("Suggested exclusions")
    for number in range(3):
        name, button = st.columns([4, 1])
        name.markdown(f"**Shared mailbox {number}**")
        if button.button("Exclude", key=f"exclude_{number}"):
            st.session_state["excluded"] = number


def what_if() -> None:
    st.title("What-if")
    st.slider("Recover %", 0, 100, 50)
    st.metric("One-time", "$1,234.00")


if "user" not in st.session_state:
    st.navigation([st.Page(sign_in, title="Sign in")]).run()
else:
    st.navigation(
        [
            st.Page(overview, title="Overview", default=True),
            st.Page(review, title="Review", url_path="review"),
            st.Page(what_if, title="What-if", url_path="what-if"),
        ]
    ).run()
