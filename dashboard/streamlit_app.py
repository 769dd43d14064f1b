"""The ops console's entry: the frame and router (``streamlit run dashboard/streamlit_app.py``).

The scope (MATRX_CONSOLE_SCOPE: deploy or manager) decides the navigation; each page
in ``app_pages/`` is a thin call into ``dashboard/lib/views``.
"""

import streamlit as st

from dashboard.lib import frame

st.set_page_config(page_title="matrx-ship console", layout="wide")
frame.build().run()
