"""Model providers behind the chat responder (`CHAT_RESPONDER=openai`)."""
