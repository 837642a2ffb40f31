"""The shape every BERT task model shares: a functional model around a backbone it keeps."""

import keras


class BackboneTaskModel(keras.Model):
    """A functional model built on ``self.backbone`` (a :class:`~keraslab.models.BertBackbone`).

    Saved as the backbone's config plus :meth:`head_config` (the subclass's other constructor
    arguments), and rebuilt by calling the constructor with the deserialised backbone, so a
    ``.keras`` checkpoint restores the class itself, not a graph of anonymous layers.
    """

    def head_config(self) -> dict:
        """The constructor's arguments besides ``backbone`` (and ``name``)."""
        return {}

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            **self.head_config(),
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        backbone = keras.saving.deserialize_keras_object(config.pop("backbone"))
        return cls(backbone, **config)
