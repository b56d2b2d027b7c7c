"""An agent's side of a remote MCP server, for the end-to-end test: the MCP Python SDK's
streamable HTTP client, through the proxy in HTTPS_PROXY (trusting the CA in SSL_CERT_FILE),
lists the server's tools and calls `get_weather` once.

Prints one JSON object: {"tools": [{"name", "description"}], "weather": TEXT}.

Usage: mcp_remote_agent.py URL
"""

import asyncio
import json
import os
import ssl
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url):
    verify = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    async with httpx2.AsyncClient(proxy=os.environ["HTTPS_PROXY"], verify=verify, timeout=30) as client:
        async with streamable_http_client(url, http_client=client) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                result = await session.call_tool("get_weather", {"city": "Lisbon"})
                print(json.dumps({
                    "tools": [{"name": t.name, "description": t.description} for t in listed.tools],
                    "weather": "\n".join(getattr(b, "text", "") for b in result.content),
                }), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
