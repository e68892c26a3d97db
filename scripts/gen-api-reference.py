#!/usr/bin/env python3
"""Writes docs/api-reference.md from the proto files' comments, so the reference cannot
drift from the API: each RPC's purpose, its Retry/Errors/Limits paragraphs, and the fields
of its request and response with their comments.

Input: `buf build -o -#format=json` (a FileDescriptorSet with source comments) on stdin.
Usage: npx @bufbuild/buf@1.57.0 build -o -#format=json | python3 scripts/gen-api-reference.py > docs/api-reference.md
"""

import json
import re
import sys

SERVICE, METHOD, MESSAGE, FIELD, NESTED, ENUM, ENUM_VALUE = 6, 2, 4, 2, 3, 5, 2
TYPES = {
    "TYPE_STRING": "string", "TYPE_BYTES": "bytes", "TYPE_BOOL": "bool", "TYPE_UINT32": "uint32",
    "TYPE_UINT64": "uint64", "TYPE_INT32": "int32", "TYPE_INT64": "int64", "TYPE_DOUBLE": "double",
}


def comments(file):
    locations = file.get("sourceCodeInfo", {}).get("location", [])
    return {tuple(loc.get("path", [])): loc.get("leadingComments", "") for loc in locations}


def text(comment):
    return " ".join(line.strip() for line in comment.strip().splitlines())


def paragraphs(comment):
    """The comment's first paragraph, and its `Retry:`/`Errors:`/`Limits:` paragraphs."""
    blocks = [b for b in re.split(r"\n\s*\n", comment.strip()) if b.strip()]
    purpose = text(blocks[0]) if blocks else ""
    tagged = {}
    for block in blocks[1:]:
        for part in re.split(r"\n\s*(?=(?:Retry|Errors|Limits):)", "\n" + block):
            if ":" in part:
                tag, body = part.strip().split(":", 1)
                tagged[tag] = text(body)
    return purpose, tagged


def field_type(field):
    if field["type"] in ("TYPE_MESSAGE", "TYPE_ENUM"):
        return field["typeName"].rsplit(".", 1)[-1]
    return TYPES.get(field["type"], field["type"].lower())


def main():
    fds = json.load(sys.stdin)
    messages, docs, services, enums = {}, {}, [], []
    for file in fds["file"]:
        notes = comments(file)
        for i, enum in enumerate(file.get("enumType", [])):
            values = [(v["name"], text(notes.get((ENUM, i, ENUM_VALUE, k), ""))) for k, v in enumerate(enum["value"])]
            enums.append((enum["name"], text(notes.get((ENUM, i), "")), values))
        for i, message in enumerate(file.get("messageType", [])):
            name = f".{file['package']}.{message['name']}"
            messages[name] = message
            docs[name] = (text(notes.get((MESSAGE, i), "")),
                          [text(notes.get((MESSAGE, i, FIELD, k), "")) for k in range(len(message.get("field", [])))])
        for i, service in enumerate(file.get("service", [])):
            services.append((file, service, notes, i))

    out = ["# API reference", "",
           "Generated from the comments of `proto/cairn/v1/*.proto` by `scripts/gen-api-reference.py`;",
           "the README's test command fails when this file and the protos disagree. docs/api.md",
           "explains the flow, the error model and the retry rules, with grpcurl recipes.", "",
           "Every RPC can also answer UNAVAILABLE with `METADATA_UNAVAILABLE`, `STORAGE_UNAVAILABLE`",
           "or `STEPPED_DOWN` (retry with backoff), and INVALID_ARGUMENT with `INVALID_NAME` for a",
           "malformed project name. Messages are limited to 4 MiB. Field names are the proto's",
           "(JSON clients may also use camelCase).", ""]
    rpc_messages = set()
    for file, service, notes, i in services:
        out += [f"## {service['name']}", "", text(notes.get((SERVICE, i), "")), ""]
        for j, method in enumerate(service["method"]):
            purpose, tagged = paragraphs(notes.get((SERVICE, i, METHOD, j), ""))
            stream_in = "stream " if method.get("clientStreaming") else ""
            stream_out = "stream " if method.get("serverStreaming") else ""
            request, response = method["inputType"].rsplit(".", 1)[-1], method["outputType"].rsplit(".", 1)[-1]
            out += [f"### {method['name']}", "",
                    f"`rpc {method['name']}({stream_in}{request}) returns ({stream_out}{response})`", "", purpose, ""]
            for tag in ("Retry", "Errors", "Limits"):
                if tag in tagged:
                    out += [f"- **{tag}**: {tagged[tag]}"]
            if tagged:
                out.append("")
            for label, type_name in (("Request", method["inputType"]), ("Response", method["outputType"])):
                out += field_table(label, type_name, messages, docs)
                rpc_messages.add(type_name)
    out += ["## Types", "", "Messages and enums used inside requests and responses.", ""]
    for name in sorted(set(messages) - rpc_messages, key=lambda n: n.rsplit(".", 1)[-1]):
        short = name.rsplit(".", 1)[-1]
        out += [f"### {short}", "", docs[name][0], ""] + field_table("Fields of", name, messages, docs)
    for name, doc, values in enums:
        out += [f"### {name} (enum)", "", doc, "", "| value | meaning |", "|---|---|"]
        out += [f"| `{value}` | {meaning} |" for value, meaning in values] + [""]
    sys.stdout.write("\n".join(out).rstrip() + "\n")


def field_table(label, type_name, messages, docs):
    message = messages[type_name]
    fields = message.get("field", [])
    short = type_name.rsplit(".", 1)[-1]
    if not fields:
        return [f"{label} `{short}`: no fields.", ""]
    rows = [f"{label} `{short}`:", "", "| field | type | meaning |", "|---|---|---|"]
    for field, doc in zip(fields, docs[type_name][1]):
        kind = field_type(field)
        if field.get("label") == "LABEL_REPEATED":
            kind = f"repeated {kind}"
        elif field.get("proto3Optional"):
            kind = f"optional {kind}"
        oneof = ""
        if "oneofIndex" in field and not field.get("proto3Optional"):
            oneof = f" (one of `{message['oneofDecl'][field['oneofIndex']]['name']}`)"
        rows.append(f"| `{field['name']}` | {kind}{oneof} | {doc.replace('|', '/')} |")
    return rows + [""]


if __name__ == "__main__":
    main()
