"""Documents: rendering (HTML, PDF, DOCX), the redline, the signature package and its seal."""
