// Anchor translation unit of the test support library.
