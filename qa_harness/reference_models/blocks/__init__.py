"""Building blocks shared by the FOMM, TPSMM, MRAA and MRFA re-implementations (see README.md)."""
