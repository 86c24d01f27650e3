"""Multimodal product search over XMR-Shop, served as a web service (chapter 12).

``engine`` encodes the catalogue and the queries and searches Milvus; ``service`` is the
FastAPI app; ``python -m apps.product_search`` builds the index if it is missing and serves it.
The library ``xmr_lite`` never imports this package.
"""
