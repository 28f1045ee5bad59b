"""The model that ships with docqa (`default/`: docqa.model.io.load_model() with no path), and where
each earlier default lives.

A corpus answers only with the model that wrote it, so a corpus ingested before an upgrade changed
the default is refused by the new one; FORMER_DEFAULTS lets the refusal name the directory (in
docqa's repository, with its card) that answers it."""

# fingerprint -> the earlier default's directory in docqa's repository, newest first. Shipping a new
# default adds the one it replaces (its files copied to checkpoints/ with a card).
FORMER_DEFAULTS: dict[str, str] = {
    "363bd5ca56220d86b68c6411e9bb1f116c7f9bb188ee59f126189a8c23ffa8e5": "checkpoints/bpe-a147-s50",
    "5033ba32327ab79698331f2d6bc70470cefbf204fb20b02adc188f7b65b5aea8": "checkpoints/bpe-a118",
    "a79322d564e3ea004c9a8f627a996581cd4489917adbb67c087b47a3312ba78e": "checkpoints/bpe-s92",
    "e80a67bc08cb2f6e0138c3967c92e79b1366b2811071a680fbd99ed0b2bef51a": "checkpoints/bpe-s83",
    "e7f7cc82f61c95f2be16ef8e9c7ec34d1e93aa16f38d162968afd6819b4528be": "checkpoints/bpe-a69-s25",
    "3240cf7f567f4fbec0058cbb4f9cc4ffcd2f3a9b0b714e276a07476a8c9bb0b3": "checkpoints/bpe-a63-l1t02",
    "a42bd4e75af35c891998ccc341c5c9d3bcd3dba88034ecfc36fc27033dc9a2eb": "checkpoints/bpe-a63-l2t05",
    "9207aa1cc070dbc3005e63126f0d238cf8f6328f71ca241fb08f269c0f8590f8": "checkpoints/bpe-a63-skip2",
    "82acc227958ed614b04ffad30aa8d26175a31d36cf7ecf50799b818ebbf0fa38": "checkpoints/bpe-s70",
    "50346f7ac46275fc49fe3fd490574a95937f1347399c1c7c73237bb2eb2e5d42": "checkpoints/bpe-c3w",
    "868989b460cfb2f1702ab9f7935308802413dd3f907bfdaac13c3d1d9169ec0f": "checkpoints/bpe-c3",
    "a1c862218496ee2a527f7e4d2f82eacae6042b58d72f53e3d0a8a191f0d684c1": "checkpoints/byte-p5",
}
