__title__ = "spacy-bioner"
__version__ = "0.1.0"
