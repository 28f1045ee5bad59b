"""docqa: document question answering through Infini-attention compressive memory."""
