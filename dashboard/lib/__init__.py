"""The console's logic: pure helpers here, Streamlit views in ``views/``; pages stay thin."""
