"""Users (admin): who may sign in, with which roles; add, change roles, disable, unlock, set a password."""

from __future__ import annotations

import streamlit as st

from mcc import users as user_service
from mcc.permissions import ROLE_HELP, ROLES
from pages import common

ctx = common.context()
user = common.require_user()
common.header("Users", "Who may sign in and what they may do. Every change is recorded in the audit log.")
common.flash()
if not user.has("admin"):
    st.error("The Users page needs the admin role.")
    st.stop()


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def load_users(version: int) -> list[user_service.UserInfo]:
    return user_service.list_users(ctx.reader)


people = load_users(common.version().audit)
st.dataframe(
    [
        {
            "Username": p.username,
            "Name": p.name,
            "Email": p.email,
            "Roles": ", ".join(p.roles),
            "State": "Disabled" if p.disabled else "Locked" if p.locked() else "Active",
            "Failed sign-ins": p.failed_attempts,
            "Last sign-in": p.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if p.last_login_at else "never",
        }
        for p in people
    ],
    hide_index=True,
    width="stretch",
    key="users_table",
)
st.caption(" · ".join(f"**{role}**: {text}" for role, text in ROLE_HELP.items()))

add_tab, change_tab = st.tabs(["Add a user", "Change a user"])
with add_tab, st.form("add_user", clear_on_submit=True):
    left, right = st.columns(2)
    username = left.text_input("Username", key="add_username")
    name = right.text_input("Display name", key="add_name")
    email = left.text_input("Email", key="add_email")
    roles = right.multiselect("Roles", ROLES, default=["viewer"], key="add_roles")
    password = left.text_input(
        "Initial password",
        type="password",
        key="add_password",
        help=f"At least {user_service.MIN_PASSWORD_LENGTH} characters; hand it over out of band.",
    )
    if st.form_submit_button("Add user", type="primary"):
        actor = common.actor()
        added = common.attempt(
            lambda: user_service.add_user(
                ctx.engine, actor, username, name=name, email=email, password=password, roles=roles
            ),
            success=f"Added {username.strip().lower()}",
        )
        if added is not None:
            st.rerun()

with change_tab:
    if not people:
        common.empty_state("No users yet", "Add the first one above.")
    else:
        names = [p.username for p in people]
        chosen = st.selectbox("User", names, key="change_user")
        target = next(p for p in people if p.username == chosen)
        with st.form("change_roles"):
            new_roles = st.multiselect("Roles", ROLES, default=list(target.roles), key="change_roles_value")
            if st.form_submit_button("Save roles"):
                actor = common.actor()
                if common.attempt(
                    lambda: user_service.set_roles(ctx.engine, actor, target.username, new_roles),
                    success=f"Roles of {target.username} saved",
                ):
                    st.rerun()
        with st.form("change_password", clear_on_submit=True):
            new_password = st.text_input("New password", type="password", key="change_password_value")
            if st.form_submit_button("Set password"):
                actor = common.actor()
                if common.attempt(
                    lambda: user_service.set_password(ctx.engine, actor, target.username, new_password),
                    success=f"Password of {target.username} set",
                ):
                    st.rerun()
        left, right = st.columns(2)
        if target.disabled:
            if left.button("Enable", key="enable_user", icon=":material/check_circle:"):
                actor = common.actor()
                if common.attempt(
                    lambda: user_service.set_disabled(ctx.engine, actor, target.username, False),
                    success=f"{target.username} enabled",
                ):
                    st.rerun()
        elif left.button("Disable", key="disable_user", icon=":material/block:"):
            actor = common.actor()
            if common.attempt(
                lambda: user_service.set_disabled(ctx.engine, actor, target.username, True),
                success=f"{target.username} disabled",
            ):
                st.rerun()
        if target.locked() and right.button("Unlock", key="unlock_user", icon=":material/lock_open:"):
            actor = common.actor()
            if common.attempt(
                lambda: user_service.unlock(ctx.engine, actor, target.username),
                success=f"{target.username} unlocked",
            ):
                st.rerun()
