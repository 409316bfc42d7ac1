"""ticket"""
